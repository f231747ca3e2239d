#pragma once
// What a harness asserts beyond "no crash, no sanitizer report": a property of the parser's answer
// (a round trip, an invariant of the result). Failing one aborts, which libFuzzer records as a
// crash with the input that caused it.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (false)
