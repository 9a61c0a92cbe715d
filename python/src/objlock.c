/* The per-object lock of every Python-visible handle (see vspy.h). Writer-preferring, so a
 * stream of searches from other threads cannot starve add() or close(). */
#include "vspy.h"

int vspy_lock_init(vspy_lock *l)
{
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&l->rw, &a);
    pthread_rwlockattr_destroy(&a);
    if (rc) return -1;
    if (pthread_mutex_init(&l->writer, NULL)) {
        pthread_rwlock_destroy(&l->rw);
        return -1;
    }
    return 0;
}

void vspy_lock_destroy(vspy_lock *l)
{
    pthread_rwlock_destroy(&l->rw);
    pthread_mutex_destroy(&l->writer);
}

void vspy_rdlock(vspy_lock *l) { pthread_rwlock_rdlock(&l->rw); }
void vspy_wrlock(vspy_lock *l) { pthread_rwlock_wrlock(&l->rw); }
void vspy_unlock(vspy_lock *l) { pthread_rwlock_unlock(&l->rw); }
