/* Helpers for tests that start `vecscale serve`: spawn on a free loopback port (--port 0 and
 * --port-file), a minimal HTTP/1.1 client (one request per connection, 30 s socket timeouts),
 * and stop with a signal. Header-only, like tests/unit/test_util.h. */
#ifndef VS_SERVER_UTIL_H
#define VS_SERVER_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int port;
    char log[512];
} su_server;

/* Servers still running when the test process exits (a failed assertion skips su_stop)
 * are killed, so a failing test leaves nothing behind. */
static pid_t su_live[64];

static inline void su_kill_live(void)
{
    for (int i = 0; i < 64; i++)
        if (su_live[i] > 0) {
            kill(su_live[i], SIGKILL);
            waitpid(su_live[i], NULL, 0);
            su_live[i] = 0;
        }
}

static inline void su_track(pid_t pid, int on)
{
    static int registered;
    if (!registered) {
        atexit(su_kill_live);
        registered = 1;
    }
    for (int i = 0; i < 64; i++)
        if (on ? su_live[i] == 0 : su_live[i] == pid) {
            su_live[i] = on ? pid : 0;
            return;
        }
}

static inline double su_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void su_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts `bin serve --data dir --port 0 --port-file ... <extra: NULL-terminated array or NULL>`
 * and waits (at most 30 s) until it listens. Returns 0 on success. Output goes to dir.log. */
static inline int su_start(su_server *s, const char *bin, const char *dir, const char *const *extra)
{
    const char *argv[64];
    int n = 0;
    char port_file[512];
    snprintf(port_file, sizeof port_file, "%s.port", dir);
    snprintf(s->log, sizeof s->log, "%s.log", dir);
    unlink(port_file);
    argv[n++] = bin;
    argv[n++] = "serve";
    argv[n++] = "--data";
    argv[n++] = dir;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    for (size_t i = 0; extra && extra[i] && n < 62; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    su_track(pid, 1);
    double deadline = su_now() + 30;
    while (su_now() < deadline) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", &s->port) == 1;
            fclose(f);
            if (ok) return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            su_track(pid, 0);
            fprintf(stderr, "server exited during start (see %s)\n", s->log);
            return -1;
        }
        su_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    su_track(pid, 0);
    return -1;
}

/* Sends sig and waits (at most 30 s); returns the exit status, 128+signal, or -1. */
static inline int su_stop(su_server *s, int sig)
{
    kill(s->pid, sig);
    double deadline = su_now() + 30;
    int st;
    while (su_now() < deadline) {
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            su_track(s->pid, 0);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        su_sleep_ms(5);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    return -1;
}

typedef struct {
    int status;
    char *body;
    size_t len;
    char head[4096];
} su_resp;

static inline void su_free(su_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* One request; body may be NULL. extra is additional header lines ("K: v\r\n") or NULL.
 * Returns 0 when a complete response arrived (status in r->status), -2 when the connection
 * was refused (the server saw nothing), -1 otherwise. */
static inline int su_http(int port, const char *method, const char *path, const char *body, const char *extra, su_resp *r)
{
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -2;
    }
    size_t blen = body ? strlen(body) : 0;
    char hdr[1024];
    int hn = snprintf(hdr, sizeof hdr,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n%s\r\n",
                      method, path, blen, extra ? extra : "");
    const char *parts[2] = {hdr, body};
    size_t lens[2] = {(size_t)hn, blen};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
            if (w <= 0) {
                /* The server may answer (413) and close before the whole body is sent. */
                i = 2;
                break;
            }
            off += (size_t)w;
        }
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        free(buf);
        return -1;
    }
    size_t hl = (size_t)(sep - buf);
    memcpy(r->head, buf, hl < sizeof r->head - 1 ? hl : sizeof r->head - 1);
    r->len = len - hl - 4;
    r->body = malloc(r->len + 1);
    memcpy(r->body, sep + 4, r->len);
    r->body[r->len] = 0;
    free(buf);
    return 0;
}

#endif
