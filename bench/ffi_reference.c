// The C reference for bench/ffi.bench.mjs: the same loops as ffi_worker.ts.
// Prints one JSON line: ns per call of labs(), ns per socketpair()+2×close(),
// and MB/s through a stream socketpair.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long (*volatile labs_ptr)(long) = labs;

static void *drain(void *arg) {
  int fd = *(int *)arg;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      struct pollfd p = {fd, POLLIN, 0};
      poll(&p, 1, -1);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  long calls = argc > 1 ? atol(argv[1]) : 5000000;
  long pairs = argc > 2 ? atol(argv[2]) : 100000;
  long megabytes = argc > 3 ? atol(argv[3]) : 256;
  volatile long sink = 0;
  for (long i = 0; i < calls / 10; i++) sink += labs_ptr(-i);
  double t0 = now_ns();
  for (long i = 0; i < calls; i++) sink += labs_ptr(-i);
  double call_ns = (now_ns() - t0) / calls;

  int sv[2];
  for (long i = 0; i < pairs / 10; i++) {
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv);
    close(sv[0]);
    close(sv[1]);
  }
  t0 = now_ns();
  for (long i = 0; i < pairs; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) return 1;
    close(sv[0]);
    close(sv[1]);
  }
  double pair_ns = (now_ns() - t0) / pairs;

  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv);
  pthread_t reader;
  pthread_create(&reader, NULL, drain, &sv[1]);
  static char chunk[65536];
  memset(chunk, 7, sizeof chunk);
  long total = megabytes * 1024 * 1024;
  t0 = now_ns();
  for (long sent = 0; sent < total;) {
    ssize_t n = write(sv[0], chunk, sizeof chunk);
    if (n > 0) sent += n;
    else {
      struct pollfd p = {sv[0], POLLOUT, 0};
      poll(&p, 1, -1);
    }
  }
  close(sv[0]);
  pthread_join(reader, NULL);
  double mbps = megabytes / ((now_ns() - t0) / 1e9);
  close(sv[1]);
  printf("{\"callNs\":%.3f,\"pairNs\":%.1f,\"streamMBps\":%.1f,\"sink\":%ld}\n", call_ns, pair_ns, mbps, (long)(sink & 1));
  return 0;
}
