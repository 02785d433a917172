/*
 * Not built: a repro, for the emu driver, of the SLAT problems that make the
 * stub's watchpoint tests flaky (found 2026-11-24 while testing the stub).
 * Straight on microvmi.h, no stub involved:
 *   page 0x22f (guest_counter, guest_percpu_counter) loses W (argv[1]=5) or R|W (4);
 *   on each memory event: give RWX back, singlestep on, CONTINUE;
 *   on the singlestep: singlestep off, protect again, CONTINUE.
 * After a handful of events the guest prints "guest: panic 0e 0000000000000000"
 * on serial (a #PF at rip 0 reaches the guest) and that vCPU halts.
 * Replying EMULATE (or EMULATE|TOGGLE_SINGLESTEP) instead stalls the same way.
 * Memory events also carry the rip of an earlier instruction of the block
 * (0x2012a6, push %rbx) for the lock xadd at 0x2012ac.
 * Build: cc -Idrivers/include emu_slat_repro.c -Lbuild/lib -lmicrovmi
 */
#include "microvmi.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <poll.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  int prot = atoi(argv[1]); int usepoll = argc > 2;
  uint64_t gfn = 0x22f;
  microvmi_t *vm; char *err=NULL;
  const char *pp[] = {"serial=/tmp/stubwork/probe/serial.txt", "vcpus=1", NULL}; if (microvmi_init("emu", pp, &vm, &err)) { printf("init %s\n", err); return 1; }
  struct microvmi_intercept ss = { MICROVMI_EVENT_SINGLESTEP, MICROVMI_ANY };
  microvmi_set_page_access(vm, 0, gfn, prot);
  int efd = microvmi_event_fd(vm);
  double t0=now(); int nmem=0, nss=0; uint64_t c0=0,c1=0;
  microvmi_read_physical(vm, 0x22f040, &c0, 8, NULL);
  while (now()-t0 < 3) {
    struct microvmi_event ev; enum microvmi_status st;
    if (usepoll) { struct pollfd p = { efd, POLLIN, 0 }; if (poll(&p, 1, 1000) <= 0) { printf("poll timeout\n"); break; } st = microvmi_listen(vm, 0, &ev); if (st == MICROVMI_TIMEOUT) continue; }
    else st = microvmi_listen(vm, 1000, &ev);
    if (st) { printf("listen %s after mem %d ss %d\n", microvmi_status_str(st), nmem, nss); break; }
    struct microvmi_reply r = { 0 };
    uint32_t other = 0; (void)other;
    if (ev.kind == MICROVMI_EVENT_MEMORY) {
      nmem++;
      microvmi_pause(vm); 
      microvmi_set_page_access(vm, 0, gfn, MICROVMI_ACCESS_RWX);
      microvmi_toggle_intercept(vm, ev.vcpu, &ss, true);
      microvmi_reply(vm, &ev, &r); microvmi_resume(vm);
    } else if (ev.kind == MICROVMI_EVENT_SINGLESTEP) {
      nss++;
      microvmi_toggle_intercept(vm, ev.vcpu, &ss, false);
      microvmi_set_page_access(vm, 0, gfn, prot);
      microvmi_reply(vm, &ev, &r); 
    } else microvmi_reply(vm, &ev, &r);
  }
  microvmi_read_physical(vm, 0x22f040, &c1, 8, NULL);
  printf("prot %d: mem %d ss %d counter %lu -> %lu\n", prot, nmem, nss, c0, c1);
  microvmi_destroy(vm); return 0;
}
