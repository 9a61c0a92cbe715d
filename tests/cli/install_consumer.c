#include <stdio.h>
#include <vecscale.h>
int main(void) {
    vs_index *ix; vs_index_options o = {.struct_size = sizeof(vs_index_options), .dim = 2, .metric = VS_METRIC_L2};
    float x[4] = {0, 0, 1, 1}, d[1]; int64_t id[1];
    if (vs_index_create(&o, &ix) || vs_index_add(ix, 2, x, NULL) || vs_index_search(ix, 1, x + 2, 1, NULL, d, id)) { puts(vs_last_error()); return 1; }
    printf("nearest id %lld, kernels %s\n", (long long)id[0], vs_simd_name(vs_simd_active()));
    vs_index_free(ix); return 0;
}
