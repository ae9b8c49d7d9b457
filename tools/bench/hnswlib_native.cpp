// hnswlib built for this CPU (-O3 -march=native: its AVX-512 distances),
// for tools/bench/ann_peers.py --hnswlib-native. Debian's python3-hnswlib is
// built for baseline x86-64; this is the fairer peer.
//
//   g++ -O3 -march=native -pthread -o hnswlib_native tools/bench/hnswlib_native.cpp
//   hnswlib_native BASE.f32 DIM Q1.f32[,Q2.f32...] K THREADS OUT1[,OUT2...] EF1,EF2,...
//
// Builds once with M=16, ef_construction=200 over THREADS threads, then for
// each query file and each ef answers every query (THREADS threads) and
// writes OUTi.EF (k int32 row numbers per query). Prints one JSON line per
// query file and ef with the timing.
#include <hnswlib/hnswlib.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

static std::vector<float> readf32(const char* path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(f.tellg() / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), v.size() * 4);
  return v;
}

static std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string tok; std::getline(ss, tok, ',');) out.push_back(tok);
  return out;
}

template <class F> static void parallel(size_t n, int threads, F fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      for (size_t i; (i = next++) < n;) fn(i);
    });
  for (auto& t : ts) t.join();
}

// rss_kb is the anonymous resident memory: the index, not the mapped input.
static long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stol(line.substr(8));
  return 0;
}

// sweep answers the queries of qpath at each ef and writes outp.EF.
static void sweep(hnswlib::HierarchicalNSW<float>& index, int dim, int k, int threads, const std::string& qpath,
                  const std::string& outp, const std::vector<std::string>& efs, double build, long bytes) {
  std::vector<float> queries = readf32(qpath.c_str());
  size_t nq = queries.size() / dim;
  for (const std::string& tok : efs) {
    int ef = std::stoi(tok);
    index.setEf(std::max(ef, k));
    std::vector<int> out(nq * k, -1);
    auto t1 = std::chrono::steady_clock::now();
    size_t answered = 0;
    do {
      parallel(nq, threads, [&](size_t q) {
        auto res = index.searchKnn(queries.data() + q * dim, k);
        for (int j = (int)res.size() - 1; j >= 0; j--) {
          out[q * k + j] = (int)res.top().second;
          res.pop();
        }
      });
      answered += nq;
    } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() < 1.0);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::ofstream(outp + "." + tok, std::ios::binary).write(reinterpret_cast<char*>(out.data()), out.size() * 4);
    std::printf("{\"queries\":\"%s\",\"effort\":%d,\"qps\":%.1f,\"build_s\":%.1f,\"index_bytes\":%ld}\n",
                qpath.c_str(), ef, answered / secs, build, bytes);
    std::fflush(stdout);
  }
}

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: hnswlib_native BASE.f32 DIM Q1.f32[,Q2.f32] K THREADS OUT1[,OUT2] EFS\n");
    return 2;
  }
  int dim = std::stoi(argv[2]), k = std::stoi(argv[4]), threads = std::stoi(argv[5]);
  std::vector<std::string> qpaths = split(argv[3]), outs = split(argv[6]), efs = split(argv[7]);
  if (qpaths.size() != outs.size()) {
    std::fprintf(stderr, "hnswlib_native: %zu query files but %zu output prefixes\n", qpaths.size(), outs.size());
    return 2;
  }
  // The base is mapped, not read: the index keeps its own copy of every
  // vector, and at 10M rows two copies would not fit in memory.
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    std::perror(argv[1]);
    return 1;
  }
  size_t n = st.st_size / 4 / dim;
  const float* base = static_cast<const float*>(mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0));
  if (base == MAP_FAILED) {
    std::perror(argv[1]);
    return 1;
  }
  long rss0 = rss_kb();
  auto t0 = std::chrono::steady_clock::now();
  hnswlib::InnerProductSpace space(dim);
  hnswlib::HierarchicalNSW<float> index(&space, n, 16, 200);
  index.addPoint(base, 0);
  parallel(n - 1, threads, [&](size_t i) { index.addPoint(base + (i + 1) * dim, i + 1); });
  double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long bytes = (rss_kb() - rss0) * 1024;
  munmap(const_cast<float*>(base), st.st_size);
  close(fd);
  for (size_t i = 0; i < qpaths.size(); i++) sweep(index, dim, k, threads, qpaths[i], outs[i], efs, build, bytes);
}
