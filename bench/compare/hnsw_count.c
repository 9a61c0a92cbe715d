/* Distance evaluations per query (bench/RESULTS.md, HNSW): builds SPEC over the base with 2 threads and
 * efConstruction EFC and saves it to FILE (or loads FILE when it exists), then searches one query per
 * call on one thread for each ef and prints recall@10, queries/s by process CPU time and, when the
 * library was built with -DVS_HNSW_STATS (cmake -DCMAKE_C_FLAGS=-DVS_HNSW_STATS), distance
 * evaluations per query. Link against that build's libvecscale.a (command in bench/RESULTS.md).
 *   hnsw_count BASE QUERIES GT METRIC SPEC EFC FILE EF,EF,... [NQ] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "vecscale.h"
#ifdef VS_HNSW_STATS
extern _Atomic unsigned long long vs_hnsw_stat_dist;
#endif
static double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static double wall(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}

int main(int argc,char**argv){
  if(argc<9){fprintf(stderr,"hx base queries gt metric spec efc file ef,ef,.. [nq]\n");return 2;}
  vs_matrix *B,*Q,*G; int rc;
  size_t nqmax = argc>9? (size_t)atol(argv[9]):0;
  if((rc=vs_matrix_read(argv[2],nqmax,&Q))||(rc=vs_matrix_read(argv[3],nqmax,&G))){fprintf(stderr,"%s\n",vs_last_error());return 1;}
  vs_matrix_to_f32(Q);
  vs_metric m; vs_metric_parse(argv[4],&m);
  vs_index *ix=NULL;
  if(access(argv[7],R_OK)==0){ if(vs_index_load(argv[7],&ix)){fprintf(stderr,"%s\n",vs_last_error());return 1;} }
  else {
    if((rc=vs_matrix_read(argv[1],0,&B))){fprintf(stderr,"%s\n",vs_last_error());return 1;}
    vs_matrix_to_f32(B);
    vs_index_options o={.struct_size = sizeof(vs_index_options), .dim=B->dim,.metric=m,.factory=argv[5],.n_threads=2,.ef_construction=(uint32_t)atoi(argv[6])};
    if(vs_index_create(&o,&ix)){fprintf(stderr,"%s\n",vs_last_error());return 1;}
    double w0=wall();
    if(vs_index_train(ix,B->n,B->data)||vs_index_add(ix,B->n,B->data,NULL)){fprintf(stderr,"%s\n",vs_last_error());return 1;}
    printf("# build %.1f s wall, mem %.1f MiB\n",wall()-w0,vs_index_memory_bytes(ix)/1048576.0);
    if(vs_index_save(ix,argv[7])){fprintf(stderr,"%s\n",vs_last_error());return 1;}
  }
  size_t nq=Q->n,k=10; float *D=malloc(nq*k*4); int64_t *I=malloc(nq*k*8);
  char *e=argv[8];
  while(*e){
    unsigned ef=(unsigned)strtoul(e,&e,10); if(*e==',')e++;
    vs_search_params p={.struct_size = sizeof(vs_search_params), .ef_search=ef};
#ifdef VS_HNSW_STATS
    unsigned long long d0=vs_hnsw_stat_dist;
#endif
    double c0=cpu();
    for(size_t i=0;i<nq;i++) vs_index_search(ix,1,(float*)Q->data+i*Q->dim,k,&p,D+i*k,I+i*k);
    double c=cpu()-c0;
    size_t hit=0; const int32_t*g=G->data;
    for(size_t i=0;i<nq;i++)for(size_t a=0;a<k;a++)for(size_t b=0;b<k;b++) if(I[i*k+a]==g[i*G->dim+b]){hit++;break;}
    printf("ef=%u recall %.4f qps %.1f",ef,(double)hit/(nq*k),nq/c);
#ifdef VS_HNSW_STATS
    printf(" dist/q %.1f",(double)(vs_hnsw_stat_dist-d0)/nq);
#endif
    printf("\n"); fflush(stdout);
  }
  return 0;
}
