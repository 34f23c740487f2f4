/* The engine registry: adding an engine is a file with its table, and a line here. */
#include "engine.h"

const uw_engine *const uw_engines[UW_ENGINE_COUNT] = {
	[UW_ENGINE_ASYNC] = &uw_engine_async,
	[UW_ENGINE_UGREEN] = &uw_engine_ugreen,
	[UW_ENGINE_GREENLET] = &uw_engine_greenlet,
	[UW_ENGINE_GEVENT] = &uw_engine_gevent,
	[UW_ENGINE_THREADS] = &uw_engine_threads,
};

const uw_engine *uw_eng = &uw_engine_async;
