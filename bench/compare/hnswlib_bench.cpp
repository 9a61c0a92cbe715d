// hnswlib comparator for the vecscale benchmark (same row format as
// `vecscale bench`). Uses Debian's header-only libhnswlib-dev (0.6.2).
//
//   hnswlib_bench --base B.fvecs --queries Q.fvecs --groundtruth G.ivecs
//                 --metric l2|cosine [--M 16] [--efc 200]
//                 [--ef 10,20,40,80,120,200,400] [--threads N] [--runs R]
//                 [--no-header] [--save FILE | --load FILE] [--count]
//
// Build uses N threads (addPoint from std::threads, as hnswlib's examples do);
// searches run on one thread, one query at a time, k=10. With --runs R each
// ef is searched R times and the best QPS is reported (recall is identical).
// cosine = inner product on L2-normalised base and query vectors.
// --save FILE keeps the built index; --load FILE searches a saved one instead of building
// (build_s is then 0), so search speed can be compared on one graph. --count prints
// "# dist/q N" before each ef row: distance evaluations per query, for RESULTS.md's
// graph-quality comparison (the counter wraps the space's distance function).
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

// BENCH_CLOCK=cpu times searches by process CPU time (see bench/README.md), as vecscale does.
static double search_clock()
{
    static int cpu = -1;
    if (cpu < 0) {
        const char *e = std::getenv("BENCH_CLOCK");
        cpu = e && std::strcmp(e, "cpu") == 0;
    }
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

hnswlib::DISTFUNC<float> g_inner_dist;
unsigned long long g_dist_count;
float counting_dist(const void *a, const void *b, const void *param) {
    g_dist_count++;
    return g_inner_dist(a, b, param);
}
// The wrapped space hands hnswlib the counting function only when --count asks for it.
struct CountingSpace : hnswlib::SpaceInterface<float> {
    std::unique_ptr<hnswlib::SpaceInterface<float>> inner;
    bool count;
    CountingSpace(hnswlib::SpaceInterface<float> *s, bool c) : inner(s), count(c) { g_inner_dist = s->get_dist_func(); }
    size_t get_data_size() override { return inner->get_data_size(); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return count ? counting_dist : g_inner_dist; }
    void *get_dist_func_param() override { return inner->get_dist_func_param(); }
};

[[noreturn]] void die(const std::string &msg) {
    std::fprintf(stderr, "hnswlib_bench: %s\n", msg.c_str());
    std::exit(1);
}

struct Matrix {
    size_t n = 0, d = 0;
    std::vector<float> data; // n*d, row-major (for ivecs, int32 bit patterns)
    const float *row(size_t i) const { return data.data() + i * d; }
};

// Reads .fvecs or .ivecs (both: int32 dim, then dim 4-byte values per row).
Matrix read_vecs(const std::string &path) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) die("cannot open " + path);
    if (std::fseek(f, 0, SEEK_END) != 0) die("cannot seek " + path);
    long size = std::ftell(f);
    std::rewind(f);
    int32_t d32 = 0;
    if (size < 4 || std::fread(&d32, 4, 1, f) != 1) die("empty file " + path);
    if (d32 <= 0 || d32 > (1 << 20)) die("bad dimension in " + path);
    size_t d = (size_t)d32, rowb = 4 + 4 * d;
    if ((size_t)size % rowb != 0) die(path + ": size is not a multiple of the row size");
    Matrix m;
    m.n = (size_t)size / rowb;
    m.d = d;
    m.data.resize(m.n * d);
    std::rewind(f);
    std::vector<char> buf(rowb);
    for (size_t i = 0; i < m.n; i++) {
        if (std::fread(buf.data(), 1, rowb, f) != rowb) die("short read in " + path);
        int32_t di;
        std::memcpy(&di, buf.data(), 4);
        if ((size_t)di != d) die(path + ": inconsistent row dimension");
        std::memcpy(m.data.data() + i * d, buf.data() + 4, 4 * d);
    }
    std::fclose(f);
    return m;
}

void normalize_rows(Matrix &m) {
    for (size_t i = 0; i < m.n; i++) {
        float *r = m.data.data() + i * m.d;
        double s = 0;
        for (size_t j = 0; j < m.d; j++) s += (double)r[j] * r[j];
        if (s > 0) {
            float inv = (float)(1.0 / std::sqrt(s));
            for (size_t j = 0; j < m.d; j++) r[j] *= inv;
        }
    }
}

// VmRSS of this process in KiB, from /proc/self/status.
long vmrss_kib() {
    FILE *f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "VmRSS:", 6) == 0) {
            kib = std::strtol(line + 6, nullptr, 10);
            break;
        }
    }
    std::fclose(f);
    return kib;
}

std::vector<int> parse_int_list(const std::string &s, const char *what) {
    std::vector<int> out;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t comma = s.find(',', pos);
        std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        char *end = nullptr;
        long v = std::strtol(tok.c_str(), &end, 10);
        if (tok.empty() || *end != '\0' || v <= 0) die(std::string("bad value in ") + what + ": '" + tok + "'");
        out.push_back((int)v);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

int parse_int(const std::string &s, const char *what) {
    auto v = parse_int_list(s, what);
    if (v.size() != 1) die(std::string("expected one integer for ") + what);
    return v[0];
}

void usage() {
    std::fprintf(stderr,
                 "usage: hnswlib_bench --base B.fvecs --queries Q.fvecs --groundtruth G.ivecs\n"
                 "                     --metric l2|cosine [--M 16] [--efc 200]\n"
                 "                     [--ef 10,20,40,80,120,200,400] [--threads N] [--runs R] [--no-header]\n"
                 "                     [--save FILE | --load FILE] [--count]\n");
    std::exit(2);
}

} // namespace

int main(int argc, char **argv) {
    std::string base_path, query_path, gt_path, metric = "l2", save_path, load_path;
    bool count = false;
    int M = 16, efc = 200, threads = 1, runs = 1;
    bool header = true;
    std::vector<int> efs = {10, 20, 40, 80, 120, 200, 400};
    const int k = 10;

    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--base") base_path = val();
        else if (a == "--queries") query_path = val();
        else if (a == "--groundtruth") gt_path = val();
        else if (a == "--metric") metric = val();
        else if (a == "--M") M = parse_int(val(), "--M");
        else if (a == "--efc") efc = parse_int(val(), "--efc");
        else if (a == "--ef") efs = parse_int_list(val(), "--ef");
        else if (a == "--threads") threads = parse_int(val(), "--threads");
        else if (a == "--runs") runs = parse_int(val(), "--runs");
        else if (a == "--no-header") header = false;
        else if (a == "--save") save_path = val();
        else if (a == "--load") load_path = val();
        else if (a == "--count") count = true;
        else if (a == "-h" || a == "--help") usage();
        else die("unknown argument " + a);
    }
    if (base_path.empty() || query_path.empty() || gt_path.empty()) usage();
    if (metric != "l2" && metric != "cosine") die("--metric must be l2 or cosine");
    if (!save_path.empty() && !load_path.empty()) die("--save and --load exclude each other");

    Matrix base = read_vecs(base_path);
    Matrix queries = read_vecs(query_path);
    Matrix gt = read_vecs(gt_path);
    if (base.d != queries.d) die("base and query dimensions differ");
    if (gt.n < queries.n) die("ground truth has fewer rows than there are queries");
    if (gt.d < (size_t)k) die("ground truth has fewer than 10 neighbours per query");
    if (metric == "cosine") {
        normalize_rows(base);
        normalize_rows(queries);
    }
    const size_t n = base.n, nq = queries.n, d = base.d;

    std::unique_ptr<CountingSpace> space;
    if (metric == "l2") space.reset(new CountingSpace(new hnswlib::L2Space(d), count));
    else space.reset(new CountingSpace(new hnswlib::InnerProductSpace(d), count));

    // ---- build (memory = VmRSS growth across construction + insertion) ----
    long rss0 = vmrss_kib();
    auto t0 = std::chrono::steady_clock::now();
    hnswlib::HierarchicalNSW<float> *index;
    if (!load_path.empty()) {
        index = new hnswlib::HierarchicalNSW<float>(space.get(), load_path);
        if (index->cur_element_count != n) die(load_path + " does not hold the base's vectors");
    } else {
        index = new hnswlib::HierarchicalNSW<float>(space.get(), n, (size_t)M, (size_t)efc, 100);
    }
    if (n > 0 && load_path.empty()) {
        // First point serially (sets the entry point), as hnswlib's Python
        // bindings do, then the rest from `threads` workers.
        index->addPoint(base.row(0), 0);
        std::atomic<size_t> next(1);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; t++) {
            pool.emplace_back([&]() {
                for (;;) {
                    size_t i = next.fetch_add(1);
                    if (i >= n) break;
                    index->addPoint(base.row(i), (hnswlib::labeltype)i);
                }
            });
        }
        for (auto &th : pool) th.join();
    }
    double build_s = load_path.empty() ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() : 0.0;
    if (!save_path.empty()) index->saveIndex(save_path);
    long rss1 = vmrss_kib();
    double memory_mb = (rss0 >= 0 && rss1 >= 0) ? (double)(rss1 - rss0) / 1024.0 : -1.0;

    char index_name[64];
    std::snprintf(index_name, sizeof index_name, "HNSW%d,efc%d", M, efc);
    if (header)
        std::printf("%-10s %-28s %-22s %9s %11s %9s %10s\n", "library", "index", "params", "recall@10", "qps",
                    "build_s", "memory_mb");
    std::fflush(stdout);

    // ---- search: one thread, one query at a time ----
    std::vector<hnswlib::labeltype> res(nq * k);
    for (int ef : efs) {
        index->setEf((size_t)ef);
        double best = 1e300;
        for (int r = 0; r < runs; r++) {
            std::fill(res.begin(), res.end(), (hnswlib::labeltype)-1);
            g_dist_count = 0;
            double s0 = search_clock();
            for (size_t q = 0; q < nq; q++) {
                auto pq = index->searchKnn(queries.row(q), k);
                // priority_queue pops the farthest first
                size_t j = pq.size();
                while (!pq.empty()) {
                    res[q * k + --j] = pq.top().second;
                    pq.pop();
                }
            }
            double s = search_clock() - s0;
            best = std::min(best, s);
        }
        // recall@10 = |returned top-10 ∩ true top-10| / 10, averaged over queries
        size_t hits = 0;
        for (size_t q = 0; q < nq; q++) {
            const int32_t *g = reinterpret_cast<const int32_t *>(gt.row(q));
            for (int a = 0; a < k; a++) {
                hnswlib::labeltype id = res[q * k + a];
                for (int b = 0; b < k; b++) {
                    if ((hnswlib::labeltype)g[b] == id && g[b] >= 0) {
                        hits++;
                        break;
                    }
                }
            }
        }
        double recall = (double)hits / ((double)nq * k);
        if (count) std::printf("# dist/q %.1f\n", (double)g_dist_count / ((double)nq * runs));
        char params[32];
        std::snprintf(params, sizeof params, "ef=%d", ef);
        std::printf("%-10s %-28s %-22s %9.4f %11.1f %9.2f %10.1f\n", "hnswlib", index_name, params, recall,
                    (double)nq / best, build_s, memory_mb);
        std::fflush(stdout);
    }
    delete index;
    return 0;
}
