// xmodal web UI: plain JavaScript over the native API (/api/v1).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $('search-form');
  const input = $('q');
  const fileInput = $('file');
  const status = $('status');
  const welcome = $('welcome');
  const querySection = $('query-section');
  const captionsSection = $('captions-section');
  const imagesSection = $('images-section');
  const dupsSection = $('dups-section');
  const dialog = $('detail');

  const TOP_K_TEXT = 40;
  const TOP_K_IMAGE = 20;
  const TOP_K_SIMILAR = 12;

  // Responses that arrive after a newer search started are dropped.
  let generation = 0;
  // The text search whose results are showing, for "Show more".
  let page = null;
  let maxTopK = 1000;
  let queryObjectURL = null;

  // --- helpers -------------------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') node.className = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c !== null && c !== undefined) node.append(c);
    }
    return node;
  }

  async function api(path, options) {
    let res;
    try {
      res = await fetch(path, options);
    } catch (e) {
      throw new Error('The server cannot be reached.');
    }
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      const err = new Error((body && body.error) || `${res.status} ${res.statusText}`);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  // A search of the native API, as JSON.
  const searchJSON = (query) => api('/api/v1/search', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(query),
  });


  function setStatus(text, isError = false) {
    status.textContent = text;
    status.classList.toggle('error', isError);
  }

  // Fused scores (hybrid) are sums of 1/(60 + rank), about 0.01 to 0.03.
  const fmtScore = (hit) => hit.score.toFixed(hit.hybrid ? 4 : 3);
  const fmtBytes = (n) => (n < 1024 ? `${n} bytes` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`);
  const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? '' : 's'}`;
  const target = () => form.querySelector('input[name=target]:checked').value;
  const hybrid = () => $('hybrid').checked;

  // With an image query, captions and similar images sit side by side on
  // wide screens.
  function showSections({ query = false, captions = false, images = false, dups = false }) {
    $('results').classList.toggle('split', captions && images);
    welcome.hidden = query || captions || images || dups;
    dupsSection.hidden = !dups;
    querySection.hidden = !query;
    captionsSection.hidden = !captions;
    imagesSection.hidden = !images;
  }

  // --- rendering -----------------------------------------------------------

  // Where a hybrid hit came from, for its tooltip.
  const provenance = (hit) => (hit.hybrid
    ? [hit.hybrid.vector_rank ? `model rank ${hit.hybrid.vector_rank}` : 'not in the model’s first 100',
      hit.hybrid.word_rank ? `word rank ${hit.hybrid.word_rank}` : 'no words matched'].join(' · ')
    : undefined);

  function imageCard(hit) {
    const caption = (hit.captions && hit.captions[0]) || hit.key || `Image ${hit.id}`;
    return el('li', {},
      el('button', {
        type: 'button', class: 'card result', dataset: { id: hit.id }, title: provenance(hit),
        'aria-label': `${caption} (score ${fmtScore(hit)})`,
        onclick: (e) => openDetail(hit.id, e.currentTarget),
      },
      el('span', { class: 'card-media' },
        el('img', { src: hit.thumbnail_url, alt: '', loading: 'lazy', decoding: 'async', width: 256, height: 256 }),
        el('span', { class: 'score', 'aria-hidden': 'true' }, fmtScore(hit))),
      el('span', { class: 'card-caption', 'aria-hidden': 'true' }, caption)));
  }

  function captionItem(hit) {
    const imageID = hit.image ? hit.image.id : hit.id;
    return el('li', {},
      el('button', {
        type: 'button', class: 'caption-hit result', dataset: { id: imageID }, title: provenance(hit),
        'aria-label': `${hit.text} (score ${fmtScore(hit)})`,
        onclick: (e) => openDetail(imageID, e.currentTarget),
      },
      el('img', { src: hit.thumbnail_url, alt: '', loading: 'lazy', width: 52, height: 52 }),
      el('span', { class: 'text caption-text' }, hit.text),
      el('span', { class: 'pill', 'aria-hidden': 'true' }, fmtScore(hit))));
  }

  function renderImages(list, hits) {
    list.replaceChildren(...hits.map(imageCard));
  }

  function renderCaptions(hits) {
    $('captions').replaceChildren(...hits.map(captionItem));
  }

  // --- searches ------------------------------------------------------------

  // Show more appears under a full page, while the server allows another.
  function updateMore(got) {
    const more = $('more');
    more.hidden = !page || got < TOP_K_TEXT || page.shown + TOP_K_TEXT > maxTopK;
  }

  const textStatus = (p, took) => `${plural(p.shown, p.tgt === 'captions' ? 'caption' : 'image')} for “${p.text}”${p.words ? ', words matched too' : ''} · ${took.toFixed(0)} ms`;

  async function showMore() {
    const p = page;
    const gen = generation;
    const more = $('more');
    more.disabled = true;
    try {
      const res = await searchJSON({ text: p.text, target: p.tgt, top_k: TOP_K_TEXT, offset: p.shown, hybrid: p.words });
      if (gen !== generation || p !== page) return;
      const captions = p.tgt === 'captions';
      const hits = captions ? res.captions : res.images;
      const items = hits.map(captions ? captionItem : imageCard);
      $(captions ? 'captions' : 'images').append(...items);
      p.shown += hits.length;
      setStatus(textStatus(p, res.took_ms));
      updateMore(hits.length);
      // Keyboard users carry on from the first new result.
      if (items.length) items[0].querySelector('.result').focus();
    } catch (e) {
      if (gen === generation) setStatus(e.message, true);
    } finally {
      more.disabled = false;
    }
  }

  async function searchText(text, tgt, words) {
    const gen = ++generation;
    page = null;
    updateMore(0);
    setStatus('Searching…');
    document.body.setAttribute('aria-busy', 'true');
    try {
      const res = await searchJSON({ text, target: tgt, top_k: TOP_K_TEXT, hybrid: words });
      if (gen !== generation) return;
      const hits = tgt === 'captions' ? res.captions : res.images;
      page = { text, tgt, words, shown: hits.length };
      if (tgt === 'captions') {
        renderCaptions(res.captions);
        $('captions-title').textContent = 'Captions';
        showSections({ captions: true });
        setStatus(textStatus(page, res.took_ms));
      } else {
        renderImages($('images'), res.images);
        $('images-title').textContent = 'Images';
        showSections({ images: true });
        setStatus(res.images.length ? textStatus(page, res.took_ms) : 'No images: the workspace is empty.');
      }
      updateMore(hits.length);
    } catch (e) {
      if (gen === generation) setStatus(e.message, true);
    } finally {
      if (gen === generation) document.body.removeAttribute('aria-busy');
    }
  }

  async function searchImage(file) {
    if (!file) return;
    if (!/^image\//.test(file.type)) {
      setStatus(`${file.name || 'That file'} is not an image.`, true);
      return;
    }
    const gen = ++generation;
    page = null;
    updateMore(0);
    if (queryObjectURL) URL.revokeObjectURL(queryObjectURL);
    queryObjectURL = URL.createObjectURL(file);
    $('query-img').src = queryObjectURL;
    $('query-title').textContent = file.name && file.name !== 'image.png' ? file.name : 'Your image';
    $('query-meta').textContent = `${file.type} · ${fmtBytes(file.size)}`;
    setStatus('Searching by image…');
    document.body.setAttribute('aria-busy', 'true');
    const data = new FormData();
    data.append('image', file, file.name || 'image');
    data.append('target', 'both');
    data.append('top_k', String(TOP_K_IMAGE));
    try {
      const res = await api('/api/v1/search', { method: 'POST', body: data });
      if (gen !== generation) return;
      renderCaptions(res.captions);
      renderImages($('images'), res.images);
      $('captions-title').textContent = 'Matching captions';
      $('images-title').textContent = 'Similar images';
      showSections({ query: true, captions: true, images: true });
      const q = res.query;
      $('query-meta').textContent = `${q.mime_type} · ${q.width}×${q.height} · ${fmtBytes(q.bytes)}`;
      setStatus(`${plural(res.captions.length, 'caption')} and ${plural(res.images.length, 'image')} · ${res.took_ms.toFixed(0)} ms`);
      input.value = '';
      history.replaceState(null, '', location.pathname);
    } catch (e) {
      if (gen === generation) {
        setStatus(e.message, true);
        showSections({ query: true });
      }
    } finally {
      if (gen === generation) document.body.removeAttribute('aria-busy');
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) {
      input.focus();
      setStatus('Type a description, or drop or paste an image.');
      return;
    }
    const tgt = target();
    const params = new URLSearchParams({ q: text });
    if (tgt !== 'images') params.set('target', tgt);
    if (hybrid()) params.set('hybrid', '1');
    history.replaceState(null, '', `?${params}`);
    searchText(text, tgt, hybrid());
  });

  // Changing the target or the word matching re-runs a text search.
  form.addEventListener('change', (e) => {
    if ((e.target.name === 'target' || e.target.name === 'hybrid') && input.value.trim()) form.requestSubmit();
  });

  $('more').addEventListener('click', showMore);

  // "Similar images, but …": the words steer the similar images.
  $('steer-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const gen = ++detailGeneration;
    try {
      const similar = await similarTo(detailID, $('steer').value.trim());
      if (gen === detailGeneration) renderImages($('detail-similar'), similar.images);
    } catch (err) {
      if (gen === detailGeneration) $('detail-similar').replaceChildren(el('li', { class: 'muted' }, err.message));
    }
  });

  // Groups of near-identical images, each a row of cards: the group's
  // centre first, then the others by their similarity to it.
  async function showDuplicates() {
    const gen = ++generation;
    page = null;
    updateMore(0);
    history.replaceState(null, '', '?view=duplicates');
    setStatus('Looking for duplicates…');
    document.body.setAttribute('aria-busy', 'true');
    try {
      const res = await api('/api/v1/duplicates');
      if (gen !== generation) return;
      $('dups').replaceChildren(...res.groups.map((g) => el('li', {},
        el('ul', { class: 'grid grid-small' }, ...g.images.map(imageCard)))));
      showSections({ dups: true });
      const images = res.groups.reduce((n, g) => n + g.images.length, 0);
      setStatus(res.groups.length
        ? `${plural(res.groups.length, 'group')} of near-identical images (${plural(images, 'image')}, cosine ${res.threshold} or more) · ${res.took_ms.toFixed(0)} ms`
        : `No near-identical images (cosine ${res.threshold} or more).`);
    } catch (e) {
      if (gen === generation) setStatus(e.message, true);
    } finally {
      if (gen === generation) document.body.removeAttribute('aria-busy');
    }
  }

  $('dups-link').addEventListener('click', (e) => {
    e.preventDefault();
    input.value = '';
    showDuplicates();
  });

  fileInput.addEventListener('change', () => {
    const file = fileInput.files[0];
    searchImage(file);
    fileInput.value = ''; // so that the same file can be chosen again
  });

  // Paste an image anywhere.
  document.addEventListener('paste', (e) => {
    const items = e.clipboardData ? [...e.clipboardData.items] : [];
    const item = items.find((it) => it.kind === 'file' && it.type.startsWith('image/'));
    if (item) {
      e.preventDefault();
      searchImage(item.getAsFile());
    }
  });

  // Drag and drop anywhere.
  const dropzone = $('dropzone');
  let dragDepth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  document.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    dragDepth++;
    dropzone.hidden = false;
  });
  document.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) dropzone.hidden = true;
  });
  document.addEventListener('dragover', (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  document.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    dragDepth = 0;
    dropzone.hidden = true;
    const file = [...e.dataTransfer.files].find((f) => f.type.startsWith('image/')) || e.dataTransfer.files[0];
    searchImage(file);
  });

  // "/" focuses the search box, as on many sites.
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && !dialog.open && document.activeElement !== input && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      input.focus();
      input.select();
    }
  });

  // --- detail view ---------------------------------------------------------

  let returnFocus = null;
  let detailGeneration = 0;

  // The image the detail view shows, for steering its similar images.
  let detailID = null;

  const similarTo = (id, steer) => searchJSON(steer
    ? { id, target: 'images', top_k: TOP_K_SIMILAR, add: [steer] }
    : { id, target: 'images', top_k: TOP_K_SIMILAR });

  async function openDetail(id, from) {
    const gen = ++detailGeneration;
    detailID = id;
    $('steer').value = '';
    if (!dialog.open) {
      returnFocus = from || document.activeElement;
      dialog.showModal();
    }
    $('detail-title').textContent = 'Loading…';
    $('detail-img').removeAttribute('src');
    $('detail-captions').replaceChildren();
    $('detail-meta').replaceChildren();
    $('detail-similar').replaceChildren();
    $('detail-close').focus();
    try {
      const [doc, similar] = await Promise.all([api(`/api/v1/images/${id}`), similarTo(id, '')]);
      if (gen !== detailGeneration) return;
      const name = doc.key.split('/').pop();
      $('detail-title').textContent = name;
      const img = $('detail-img');
      img.src = doc.file_url;
      img.alt = doc.captions.length ? doc.captions[0].text : name;
      $('detail-link').href = doc.file_url;
      $('detail-captions').replaceChildren(...(doc.captions.length
        ? doc.captions.map((c) => el('li', {}, c.text))
        : [el('li', { class: 'muted' }, 'No captions.')]));
      const meta = [['Key', doc.key], ['Size', fmtBytes(doc.size)], ['Id', String(doc.id)]];
      if (doc.split) meta.push(['Split', doc.split]);
      $('detail-meta').replaceChildren(...meta.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
      renderImages($('detail-similar'), similar.images);
    } catch (e) {
      if (gen === detailGeneration) $('detail-title').textContent = e.message;
    }
  }

  $('detail-close').addEventListener('click', () => dialog.close());
  // A click on the backdrop (outside the dialog's box) closes it.
  dialog.addEventListener('click', (e) => {
    if (e.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dialog.close();
  });
  dialog.addEventListener('close', () => {
    detailGeneration++;
    if (returnFocus && document.contains(returnFocus)) returnFocus.focus();
    returnFocus = null;
  });

  // --- statistics ----------------------------------------------------------

  async function loadStats(attempt = 0) {
    try {
      const st = await api('/api/v1/stats');
      const model = st.model.name.split(/[\\/]/).filter(Boolean).pop() || st.model.name;
      // The built-in model says what it knows; a user's own model needs no caveat.
      $('about').hidden = st.model.name !== 'default';
      maxTopK = st.limits.max_top_k;
      $('stats').textContent = `${plural(st.searchable.images, 'image')} · ${plural(st.searchable.captions, 'caption')} · model ${model} (${st.model.dim}-d)`;
      return true;
    } catch (e) {
      if (e.status === 503 && attempt < 120) {
        $('stats').textContent = 'Loading the model and workspace…';
        await new Promise((r) => setTimeout(r, 1000));
        return loadStats(attempt + 1);
      }
      $('stats').textContent = `Statistics unavailable: ${e.message}`;
      return false;
    }
  }

  // --- start ---------------------------------------------------------------

  (async () => {
    const params = new URLSearchParams(location.search);
    const q = params.get('q');
    if (params.get('target') === 'captions') $('target-captions').checked = true;
    $('hybrid').checked = params.get('hybrid') === '1';
    await loadStats();
    if (q) {
      input.value = q;
      searchText(q, target(), hybrid());
    } else if (params.get('view') === 'duplicates') {
      showDuplicates();
    }
  })();
})();
