// vecscale and hnswlib searched in one process, interleaved, on saved indexes of the same data
// (vecscale bench --save, hnswlib_bench --save). On a shared machine the speed of memory-bound
// code drifts by +-30% over tens of seconds (other tenants' cache and DRAM traffic), which is
// more than the differences being measured. Here the queries are cut into blocks of --block;
// each block is searched by both libraries back to back, in alternating order, each timed by
// this thread's CPU clock, so both see the same conditions and the ratio is stable. Both
// search one query per call, k = 10, on this one thread.
//
//   hnsw_paired --queries Q.fvecs --groundtruth G.ivecs --metric l2|cosine
//               --vecscale FILE[,FILE...] --hnswlib FILE --ef 80,120,160,200
//               [--block 20] [--rounds 3]
//
// Each --vecscale file is one more column. Prints ann-benchmarks-style rows (build_s and
// memory_mb are not measured here: '-') and, per ef, each vecscale index's queries/s as a
// multiple of hnswlib's. With --rounds R the whole query set is searched R times; the rate
// over all rounds is reported.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ctime>
#include <string>
#include <vector>

#include "vecscale.h"

namespace {

[[noreturn]] void die(const std::string &msg) {
    std::fprintf(stderr, "hnsw_paired: %s\n", msg.c_str());
    std::exit(1);
}

double thread_cpu() {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

std::vector<std::string> split(const std::string &s) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (;;) {
        size_t c = s.find(',', pos);
        out.push_back(s.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
        if (c == std::string::npos) return out;
        pos = c + 1;
    }
}

vs_matrix *read_matrix(const std::string &path) {
    vs_matrix *m = nullptr;
    if (vs_matrix_read(path.c_str(), 0, &m)) die(path + ": " + vs_last_error());
    return m;
}

struct Lib {
    std::string name;
    vs_index *vs = nullptr;                       // a vecscale index, or
    hnswlib::HierarchicalNSW<float> *hl = nullptr; // hnswlib's
    double seconds = 0;
    std::vector<int64_t> ids;
};

double recall(const std::vector<int64_t> &ids, const int32_t *gt, size_t gt_dim, size_t nq) {
    size_t hits = 0;
    for (size_t q = 0; q < nq; q++)
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++)
                if (gt[q * gt_dim + b] >= 0 && ids[q * 10 + a] == gt[q * gt_dim + b]) {
                    hits++;
                    break;
                }
    return (double)hits / ((double)nq * 10);
}

} // namespace

int main(int argc, char **argv) {
    std::string qpath, gtpath, metric = "l2", vs_files, hl_file, efs = "80,120,160,200";
    size_t block = 20, rounds = 3;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc) die("missing value for " + a);
        std::string v = argv[++i];
        if (a == "--queries") qpath = v;
        else if (a == "--groundtruth") gtpath = v;
        else if (a == "--metric") metric = v;
        else if (a == "--vecscale") vs_files = v;
        else if (a == "--hnswlib") hl_file = v;
        else if (a == "--ef") efs = v;
        else if (a == "--block") block = std::strtoul(v.c_str(), nullptr, 10);
        else if (a == "--rounds") rounds = std::strtoul(v.c_str(), nullptr, 10);
        else die("unknown argument " + a);
    }
    if (qpath.empty() || gtpath.empty() || vs_files.empty() || hl_file.empty() || !block || !rounds)
        die("usage: see the comment at the top of bench/compare/hnsw_paired.cpp");
    if (metric != "l2" && metric != "cosine") die("--metric must be l2 or cosine");

    vs_matrix *Q = read_matrix(qpath), *G = read_matrix(gtpath);
    if (vs_matrix_to_f32(Q)) die(vs_last_error());
    const size_t nq = Q->n, d = Q->dim;
    if (G->n < nq || G->dim < 10) die("the ground truth needs 10 neighbours for every query");
    const float *queries = (const float *)Q->data;
    // hnswlib's inner-product space expects normalised queries for cosine; vecscale normalises itself.
    std::vector<float> qn(queries, queries + nq * d);
    if (metric == "cosine")
        for (size_t i = 0; i < nq; i++) {
            double s = 0;
            for (size_t j = 0; j < d; j++) s += (double)qn[i * d + j] * qn[i * d + j];
            float inv = s > 0 ? (float)(1 / std::sqrt(s)) : 0.f;
            for (size_t j = 0; j < d; j++) qn[i * d + j] *= inv;
        }

    std::unique_ptr<hnswlib::SpaceInterface<float>> space;
    if (metric == "l2") space.reset(new hnswlib::L2Space(d));
    else space.reset(new hnswlib::InnerProductSpace(d));
    std::vector<Lib> libs(1);
    libs[0].name = "hnswlib";
    libs[0].hl = new hnswlib::HierarchicalNSW<float>(space.get(), hl_file);
    for (const std::string &f : split(vs_files)) {
        Lib l;
        if (vs_index_load(f.c_str(), &l.vs)) die(f + ": " + vs_last_error());
        if (vs_index_dim(l.vs) != d) die(f + ": dimension differs from the queries'");
        l.name = vs_index_factory(l.vs);
        libs.push_back(l);
    }

    std::printf("%-10s %-28s %-22s %9s %11s %9s %10s\n", "library", "index", "params", "recall@10", "qps", "build_s",
                "memory_mb");
    for (const std::string &efs_one : split(efs)) {
        const unsigned ef = (unsigned)std::strtoul(efs_one.c_str(), nullptr, 10);
        vs_search_params p;
        vs_search_params_init(&p);
        p.ef_search = ef;
        p.n_threads = 1;
        libs[0].hl->setEf(ef);
        for (Lib &l : libs) {
            l.seconds = 0;
            l.ids.assign(nq * 10, -1);
        }
        size_t turn = 0;
        for (size_t r = 0; r < rounds; r++)
            for (size_t b0 = 0; b0 < nq; b0 += block, turn++) {
                const size_t b1 = std::min(nq, b0 + block);
                for (size_t k = 0; k < libs.size(); k++) {
                    // Rotate who goes first, so no library always meets the caches the other left.
                    Lib &l = libs[(k + turn) % libs.size()];
                    double t0 = thread_cpu();
                    for (size_t q = b0; q < b1; q++) {
                        if (l.hl) {
                            auto pq = l.hl->searchKnn(qn.data() + q * d, 10);
                            for (size_t j = pq.size(); !pq.empty(); pq.pop()) l.ids[q * 10 + --j] = (int64_t)pq.top().second;
                        } else {
                            float dist[10];
                            if (vs_index_search(l.vs, 1, queries + q * d, 10, &p, dist, &l.ids[q * 10]))
                                die(vs_last_error());
                        }
                    }
                    l.seconds += thread_cpu() - t0;
                }
            }
        char params[32];
        std::snprintf(params, sizeof params, "ef=%u", ef);
        for (Lib &l : libs)
            std::printf("%-10s %-28s %-22s %9.4f %11.1f %9s %10s\n", l.hl ? "hnswlib" : "vecscale",
                        l.hl ? "HNSW,efc(saved)" : l.name.c_str(), params,
                        recall(l.ids, (const int32_t *)G->data, G->dim, nq), (double)(nq * rounds) / l.seconds, "-", "-");
        for (size_t k = 1; k < libs.size(); k++)
            std::printf("# ef=%u %s: %.3fx hnswlib's queries/s\n", ef, libs[k].name.c_str(), libs[0].seconds / libs[k].seconds);
        std::fflush(stdout);
    }
    for (Lib &l : libs) {
        vs_index_free(l.vs);
        delete l.hl;
    }
    vs_matrix_free(Q);
    vs_matrix_free(G);
    return 0;
}
