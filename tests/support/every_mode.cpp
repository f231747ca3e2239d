#include "every_mode.hpp"

namespace test {

std::vector<std::string> app_spellings(const sockserv::ModeInfo& mode) {
    for (const sockserv::ModeOption& option : mode.options)
        if (option.name == "loops") return {std::string(mode.name) + "-1", std::string(mode.name) + "-2"};
    return {std::string(mode.name)};
}

namespace detail {

namespace {
class AppModeInvoker final : public Catch::ITestInvoker {
public:
    AppModeInvoker(void (*body)(const std::string&), std::string mode) : body_(body), mode_(std::move(mode)) {}
    void invoke() const override { body_(mode_); }

private:
    void (*body_)(const std::string&);
    std::string mode_;
};
}  // namespace

void register_app_cases(void (*body)(const std::string&), const char* title, const char* tags, const char* file,
                        std::size_t line, AppCases which) {
    const bool pool = which == AppCases::pools;
    for (const sockserv::ModeInfo& mode : sockserv::modes()) {
        if (which == AppCases::concurrent_modes && !mode.concurrent) continue;
        std::vector<std::string> spellings = app_spellings(mode);
        if (pool) spellings = {spellings.front() + "/w2"};  // a pool of two workers, one loop each
        for (const std::string& spelling : spellings) {
            const std::string name = std::string(title) + " - " + spelling;
            const std::string all_tags = std::string(tags) + (pool ? "[pool]" : "[" + std::string(mode.name) + "]");
            // Catch owns the invoker from here on, for the life of the program.
            Catch::AutoReg(new AppModeInvoker(body, spelling), Catch::SourceLineInfo(file, line), Catch::StringRef(),
                           Catch::NameAndTags{name, all_tags});
        }
    }
}

}  // namespace detail
}  // namespace test
