/*
 * Faults. A green thread that overflows its stack writes into a guard
 * page. Say so in one line and die by SIGSEGV, as uWSGI does (the master
 * respawns the worker). A fault while the hub thread runs Python or a C
 * extension gets one line and the Python traceback (what faulthandler
 * prints), then the same death. Any other fault goes on to Go's own
 * handler, which was there first: Go relies on SIGSEGV for its
 * nil-pointer panics.
 */
#include "glue.h"
#include "threads.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t uw_in_python;
static pthread_t hub_thread;

static struct sigaction go_segv, go_bus;

static void say(const char *msg) { (void)!write(2, msg, strlen(msg)); }

static int in_guard_page(const char *addr, int *core) {
	size_t ps = ug_page_size();
	for (int i = 0; i < uw_the_hub.ncores; i++) {
		uw_pycore *p = uw_the_hub.cores[i].py;
		if (!p || !p->stack.base) continue;
		if ((addr >= p->stack.base && addr < p->stack.base + ps) || (addr >= p->stack.hi && addr < p->stack.hi + ps)) {
			*core = i;
			return 1;
		}
	}
	return 0;
}

static void guard_fault(int sig, siginfo_t *si, void *uc) {
	int core = -1;
	if (in_guard_page(si->si_addr, &core)) {
		char msg[160];
		int n = snprintf(msg, sizeof msg,
		                 "!!! uGreen stack overflow on core %d: guard page hit (raise --ugreen-stacksize); the worker dies !!!\n",
		                 core);
		if (n > 0) (void)!write(2, msg, (size_t)n);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	PyThreadState *thread_ts = uw_threads_self_tstate();
	if ((uw_in_python && pthread_equal(pthread_self(), hub_thread)) || thread_ts) {
		say(sig == SIGBUS ? "!!! bus error" : "!!! segmentation fault");
		say(" in the app or a C extension; the worker dies !!!\n");
		uw_pystate_dump_traceback(2, thread_ts ? thread_ts : uw_g.tstate);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	struct sigaction *prev = sig == SIGBUS ? &go_bus : &go_segv;
	if (prev->sa_flags & SA_SIGINFO)
		prev->sa_sigaction(sig, si, uc);
	else if (prev->sa_handler != SIG_IGN && prev->sa_handler != SIG_DFL)
		prev->sa_handler(sig);
	else {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

void uw_watch_faults(void) {
	hub_thread = pthread_self();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = guard_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART; /* the overflowed stack is unusable: run on the alternate one */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &go_segv);
	sigaction(SIGBUS, &sa, &go_bus);
}

