// hnswlib built for this CPU (-O3 -march=native: its AVX-512 distances),
// for tools/bench/ann_peers.py --hnswlib-native. Debian's python3-hnswlib is
// built for baseline x86-64; this is the fairer peer.
//
//   g++ -O3 -march=native -pthread -o hnswlib_native tools/bench/hnswlib_native.cpp
//   hnswlib_native BASE.f32 DIM QUERIES.f32 K THREADS OUTPREFIX EF1,EF2,...
//
// Builds with M=16, ef_construction=200 over THREADS threads, then for each
// ef answers every query (THREADS threads) and writes OUTPREFIX.EF (k int32
// row numbers per query). Prints one JSON line per ef with the timing.
#include <hnswlib/hnswlib.h>

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

template <class F> static void parallel(size_t n, int threads, F fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      for (size_t i; (i = next++) < n;) fn(i);
    });
  for (auto& t : ts) t.join();
}

static long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: hnswlib_native BASE.f32 DIM QUERIES.f32 K THREADS OUTPREFIX EFS\n");
    return 2;
  }
  int dim = std::stoi(argv[2]), k = std::stoi(argv[4]), threads = std::stoi(argv[5]);
  std::vector<float> base = readf32(argv[1]), queries = readf32(argv[3]);
  size_t n = base.size() / dim, nq = queries.size() / dim;
  long rss0 = rss_kb();
  auto t0 = std::chrono::steady_clock::now();
  hnswlib::InnerProductSpace space(dim);
  hnswlib::HierarchicalNSW<float> index(&space, n, 16, 200);
  index.addPoint(base.data(), 0);
  parallel(n - 1, threads, [&](size_t i) { index.addPoint(base.data() + (i + 1) * dim, i + 1); });
  double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long rss1 = rss_kb();
  std::stringstream efs(argv[7]);
  std::string tok;
  while (std::getline(efs, tok, ',')) {
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
    std::ofstream(std::string(argv[6]) + "." + tok, std::ios::binary)
        .write(reinterpret_cast<char*>(out.data()), out.size() * 4);
    std::printf("{\"effort\":%d,\"qps\":%.1f,\"build_s\":%.1f,\"index_bytes\":%ld}\n", ef, answered / secs, build,
                (rss1 - rss0) * 1024);
    std::fflush(stdout);
  }
}
