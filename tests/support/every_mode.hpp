#pragma once
// Per-mode test cases, generated from the table of modes (modes.hpp): a case written once is
// registered once per mode, so a new mode is tested by every such case without an edit.
//
//   TEST_EVERY_MODE("TCP echo", "[tcp]") {          // "TCP echo - sync" [tcp][sync], "... - thread" ...
//       check<Policy<TCPServer<Echo>>>(mode.concurrent);      // Policy: the mode's template; mode: its ModeInfo
//   }
//   TEST_EVERY_APP_MODE("chat_server relays", "[app][chat]") {   // for a real program's --mode:
//       check(mode);                                              // "sync", ..., "event-1", "event-2"
//   }
//   TEST_EVERY_CONCURRENT_APP_MODE(...)                            // thread, fork, event-1, event-2
//   TEST_EVERY_POOL_MODE("chat_server relays", "[app][chat]") {  // "sync/w2", ..., "event-1/w2"
//       check(mode);
//   }
//
// Each case is tagged with its mode ([sync], [thread], [fork], [event]; pool cases [pool]), so
// the sanitizer builds choose them by tag as before (ThreadSanitizer: no fork).

#include <sockserv/modes/modes.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace test {

/// The spellings of a mode the app tests use (mode_arguments reads them): its name, and for a
/// mode that runs on loops (a --loops option), one loop and two: "event-1", "event-2".
std::vector<std::string> app_spellings(const sockserv::ModeInfo& mode);

namespace detail {

using ModeTable = std::remove_cvref_t<decltype(sockserv::mode_table)>;

template <class Body, std::size_t Index>
void run_in_mode() {
    using Entry = std::tuple_element_t<Index, ModeTable>;
    Body::template run<Entry::template policy>(std::get<Index>(sockserv::mode_table));
}

template <class Body>
struct EveryMode {
    EveryMode(const char* title, const char* tags, const char* file, std::size_t line) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (add(&run_in_mode<Body, I>, std::get<I>(sockserv::mode_table), title, tags, file, line), ...);
        }(std::make_index_sequence<std::tuple_size_v<ModeTable>>{});
    }
    static void add(void (*test)(), const sockserv::ModeInfo& mode, const char* title, const char* tags,
                    const char* file, std::size_t line) {
        const std::string name = std::string(title) + " - " + std::string(mode.name);
        const std::string all_tags = std::string(tags) + "[" + std::string(mode.name) + "]";
        Catch::AutoReg(Catch::makeTestInvoker(test), Catch::SourceLineInfo(file, line), Catch::StringRef(),
                       Catch::NameAndTags{name, all_tags});
    }
};

enum class AppCases { every_mode, concurrent_modes, pools };
void register_app_cases(void (*body)(const std::string&), const char* title, const char* tags, const char* file,
                        std::size_t line, AppCases which);

}  // namespace detail
}  // namespace test

#define SOCKSERV_TEST_CAT2(a, b) a##b
#define SOCKSERV_TEST_CAT(a, b) SOCKSERV_TEST_CAT2(a, b)

#define TEST_EVERY_MODE(title, tags) SOCKSERV_TEST_EVERY_MODE(title, tags, __COUNTER__)
#define SOCKSERV_TEST_EVERY_MODE(title, tags, id)                                                            \
    namespace {                                                                                              \
    struct SOCKSERV_TEST_CAT(EveryModeBody, id) {                                                            \
        template <template <class> class Policy>                                                             \
        static void run(const sockserv::ModeInfo& mode);                                                     \
    };                                                                                                       \
    const test::detail::EveryMode<SOCKSERV_TEST_CAT(EveryModeBody, id)> SOCKSERV_TEST_CAT(every_mode_, id){  \
        title, tags, __FILE__, __LINE__};                                                                    \
    }                                                                                                        \
    template <template <class> class Policy>                                                                 \
    void SOCKSERV_TEST_CAT(EveryModeBody, id)::run([[maybe_unused]] const sockserv::ModeInfo& mode)

// (__COUNTER__, not __LINE__: several cases may come from one line, a macro's expansion.)
#define SOCKSERV_TEST_APP_MODES(title, tags, which) SOCKSERV_TEST_APP_MODES_ID(title, tags, which, __COUNTER__)
#define SOCKSERV_TEST_APP_MODES_ID(title, tags, which, id)                                                   \
    static void SOCKSERV_TEST_CAT(every_app_mode_body_, id)(const std::string& mode);                        \
    [[maybe_unused]] static const int SOCKSERV_TEST_CAT(every_app_mode_, id) =                                \
        (test::detail::register_app_cases(&SOCKSERV_TEST_CAT(every_app_mode_body_, id), title, tags,         \
                                          __FILE__, __LINE__, which),                                        \
         0);                                                                                                 \
    static void SOCKSERV_TEST_CAT(every_app_mode_body_, id)(const std::string& mode)

#define TEST_EVERY_APP_MODE(title, tags) SOCKSERV_TEST_APP_MODES(title, tags, test::detail::AppCases::every_mode)
/// Only the modes that serve several requests at once.
#define TEST_EVERY_CONCURRENT_APP_MODE(title, tags) \
    SOCKSERV_TEST_APP_MODES(title, tags, test::detail::AppCases::concurrent_modes)
#define TEST_EVERY_POOL_MODE(title, tags) SOCKSERV_TEST_APP_MODES(title, tags, test::detail::AppCases::pools)
