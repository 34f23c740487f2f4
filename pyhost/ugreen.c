/* uGreen stacks and switches: see ugreen.h. */
#include "ugreen.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

size_t ug_page_size(void) {
	static size_t ps;
	if (!ps) ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

int ug_stack_alloc(ug_stack *s, size_t pages) {
	size_t ps = ug_page_size();
	size_t len = (pages + 2) * ps;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) return -1;
	if (mprotect(m, ps, PROT_NONE) || mprotect(m + len - ps, ps, PROT_NONE)) {
		munmap(m, len);
		return -1;
	}
	s->base = m;
	s->mapped = len;
	s->lo = m + ps;
	s->hi = m + len - ps;
	return 0;
}

void ug_stack_free(ug_stack *s) {
	if (s->base) munmap(s->base, s->mapped);
	memset(s, 0, sizeof *s);
}

int ug_switch_mode = UG_SWITCH_FAST;

#if defined(__x86_64__)
const int ug_have_fast_switch = 1;
/*
 * ug_fast_switch(void **save_sp, void *load_sp): push the callee-saved
 * registers and the SSE/x87 control words on the current stack, store the
 * stack pointer in *save_sp, load load_sp and pop the same set from there.
 */
__asm__(
	".text\n"
	".p2align 4\n"
	".globl ug_fast_switch\n"
	".hidden ug_fast_switch\n"
	".type ug_fast_switch, @function\n"
	"ug_fast_switch:\n"
	"\tpushq %rbp\n"
	"\tpushq %rbx\n"
	"\tpushq %r12\n"
	"\tpushq %r13\n"
	"\tpushq %r14\n"
	"\tpushq %r15\n"
	"\tsubq $8, %rsp\n"
	"\tstmxcsr (%rsp)\n"
	"\tfnstcw 4(%rsp)\n"
	"\tmovq %rsp, (%rdi)\n"
	"\tmovq %rsi, %rsp\n"
	"\tldmxcsr (%rsp)\n"
	"\tfldcw 4(%rsp)\n"
	"\taddq $8, %rsp\n"
	"\tpopq %r15\n"
	"\tpopq %r14\n"
	"\tpopq %r13\n"
	"\tpopq %r12\n"
	"\tpopq %rbx\n"
	"\tpopq %rbp\n"
	"\tret\n"
	".size ug_fast_switch, .-ug_fast_switch\n");

/* Lay out a fresh stack so that the first switch to it "returns" into entry. */
static void fast_prepare(ug_context *c, ug_stack *s, ug_entry_fn entry) {
	uintptr_t top = ((uintptr_t)s->hi) & ~(uintptr_t)15;
	uint64_t *p = (uint64_t *)top;
	*--p = 0;                   /* fake return address of entry: keeps the ABI alignment */
	*--p = (uint64_t)entry;     /* popped by ret */
	for (int i = 0; i < 6; i++) /* rbp rbx r12 r13 r14 r15 */
		*--p = 0;
	--p;
	((uint32_t *)p)[0] = 0x1F80; /* default mxcsr */
	((uint16_t *)p)[2] = 0x037F; /* default x87 control word */
	c->sp = p;
}
#else
const int ug_have_fast_switch = 0;
/* never called: ug_switch_mode stays UG_SWITCH_SWAPCONTEXT here */
void ug_fast_switch(void **save_sp, void *load_sp) {
	(void)save_sp;
	(void)load_sp;
}
static void fast_prepare(ug_context *c, ug_stack *s, ug_entry_fn entry) {
	(void)c;
	(void)s;
	(void)entry;
}
#endif

int ug_prepare(ug_context *c, ug_stack *s, ug_entry_fn entry) {
	if (ug_switch_mode == UG_SWITCH_FAST) {
		fast_prepare(c, s, entry);
		return 0;
	}
	if (getcontext(&c->uc)) return -1;
	c->uc.uc_stack.ss_sp = s->lo;
	c->uc.uc_stack.ss_size = (size_t)(s->hi - s->lo);
	c->uc.uc_link = NULL;
	makecontext(&c->uc, entry, 0);
	return 0;
}
