// A C entry point into hnswlib for the Python paired harness (hnsw_faiss_paired.py --hnswlib):
// it lets vecscale, native FAISS and hnswlib be searched in one process, interleaved block by
// block. Built by bench/compare/build.sh with the same flags as hnswlib_bench (-O3
// -march=native). A block call searches its queries one by one with searchKnn on the calling
// thread, as hnsw_paired does.
#include <hnswlib/hnswlib.h>

#include <cstdint>
#include <cstdio>
#include <exception>

namespace {
struct shim {
    hnswlib::SpaceInterface<float> *space;
    hnswlib::HierarchicalNSW<float> *index;
};
}  // namespace

extern "C" {

// ip != 0: inner-product space (cosine on normalised vectors); else L2. NULL on failure.
void *hl_load(const char *path, int dim, int ip)
{
    shim *s = new shim{nullptr, nullptr};
    try {
        if (ip) s->space = new hnswlib::InnerProductSpace((size_t)dim);
        else s->space = new hnswlib::L2Space((size_t)dim);
        s->index = new hnswlib::HierarchicalNSW<float>(s->space, path);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "hl_load %s: %s\n", path, e.what());
        delete s->space;
        delete s;
        return nullptr;
    }
    return s;
}

void hl_set_ef(void *h, size_t ef) { static_cast<shim *>(h)->index->setEf(ef); }

// ids: nq x k labels, best first (-1 where fewer than k came back).
void hl_search(void *h, const float *q, size_t nq, size_t dim, size_t k, int64_t *ids)
{
    shim *s = static_cast<shim *>(h);
    for (size_t i = 0; i < nq; i++) {
        auto pq = s->index->searchKnn(q + i * dim, k);
        for (size_t j = k; j-- > 0;) {
            if (pq.empty()) {
                ids[i * k + j] = -1;
                continue;
            }
            ids[i * k + j] = (int64_t)pq.top().second;
            pq.pop();
        }
    }
}

void hl_free(void *h)
{
    shim *s = static_cast<shim *>(h);
    if (!s) return;
    delete s->index;
    delete s->space;
    delete s;
}
}
