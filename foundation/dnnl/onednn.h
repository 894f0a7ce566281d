// The one include of oneDNN's C API for every file of package dnnl: a
// missing library stops the build with this message, not a raw cgo error.
#ifndef DREAMRANK_ONEDNN_H
#define DREAMRANK_ONEDNN_H
#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#else
#error "dreamrank needs oneDNN: run make setup (Debian package libdnnl-dev)"
#endif
#endif
