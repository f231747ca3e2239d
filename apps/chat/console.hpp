#pragma once
// Console: the chat client's terminal. On a terminal it edits the input line itself (raw mode), so
// a message that arrives while the user is typing is printed above the line being typed and that
// line redrawn intact, instead of being cut in two. From a pipe it reads plain lines.

#include <termios.h>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace chat {

class Console {
public:
    /// Takes over the terminal if `in` is one; the destructor (or SIGTERM/SIGHUP) gives it back.
    explicit Console(int in = 0, int out = 1);
    ~Console();
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    bool interactive() const noexcept { return interactive_; }
    /// Shown before the line being typed. Thread safe.
    void set_prompt(std::string prompt);
    /// The next line typed, without its newline; nullopt at end of input (Ctrl-D on an empty line,
    /// Ctrl-C, or EOF). One reader thread only.
    std::optional<std::string> read_line();
    /// Prints a whole line above the line being typed. Thread safe.
    void print(std::string_view line);

private:
    enum class Key { none, enter, quit };
    Key feed(unsigned char byte);  // the line editor; called with the mutex held
    void redraw();                 // called with the mutex held
    void write_out(std::string_view text) const;

    int in_, out_;
    bool interactive_ = false;
    termios saved_{};
    std::mutex mutex_;
    std::string prompt_;
    std::string line_;     // what is being typed
    std::string pending_;  // bytes read but not yet consumed
    int escape_ = 0;       // inside an escape sequence (arrow keys...): 1 after ESC, 2 after ESC [
};

}  // namespace chat
