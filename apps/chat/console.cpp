#include "console.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <utility>

namespace chat {

namespace {

// The terminal settings to put back if the client is killed. A signal handler can reach nothing
// else, hence file scope; written once, before the handlers are installed.
termios restore_settings{};
int restore_fd = -1;

extern "C" void restore_terminal_and_die(int signal) {
    ::tcsetattr(restore_fd, TCSAFLUSH, &restore_settings);
    ::signal(signal, SIG_DFL);
    ::raise(signal);
}

std::size_t terminal_width(int fd) {
    winsize size{};
    if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::size_t code_points(std::string_view text) {
    std::size_t count = 0;
    for (const char c : text) count += !is_continuation(c);
    return count;
}

}  // namespace

Console::Console(int in, int out) : in_(in), out_(out) {
    if (!::isatty(in_) || ::tcgetattr(in_, &saved_) != 0) return;
    termios raw = saved_;
    // No canonical mode, echo or signal keys: the editor sees every key (Ctrl-C and Ctrl-D too).
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO | ISIG | IEXTEN));
    raw.c_iflag &= static_cast<tcflag_t>(~(IXON | ICRNL));
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(in_, TCSAFLUSH, &raw) != 0) return;
    interactive_ = true;
    restore_settings = saved_;
    restore_fd = in_;
    ::signal(SIGTERM, restore_terminal_and_die);
    ::signal(SIGHUP, restore_terminal_and_die);
}

Console::~Console() {
    if (!interactive_) return;
    std::lock_guard lock(mutex_);
    write_out("\r\x1b[K");
    ::tcsetattr(in_, TCSAFLUSH, &saved_);
}

void Console::write_out(std::string_view text) const {
    while (!text.empty()) {
        const ssize_t n = ::write(out_, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

void Console::set_prompt(std::string prompt) {
    std::lock_guard lock(mutex_);
    prompt_ = std::move(prompt);
    if (interactive_) redraw();
}

void Console::redraw() {
    // Only the tail that fits on one row: a wrapped line could not be erased with \r and ESC [K.
    std::string_view shown = line_;
    const std::size_t room = terminal_width(out_) > prompt_.size() + 1 ? terminal_width(out_) - prompt_.size() - 1 : 1;
    while (code_points(shown) > room) {
        shown.remove_prefix(1);
        while (!shown.empty() && is_continuation(shown.front())) shown.remove_prefix(1);
    }
    std::string out = "\r\x1b[K";
    out.append(prompt_).append(shown);
    write_out(out);
}

void Console::print(std::string_view line) {
    std::lock_guard lock(mutex_);
    if (!interactive_) {
        std::string out(line);
        out.push_back('\n');
        write_out(out);
        return;
    }
    std::string out = "\r\x1b[K";
    out.append(line).append("\r\n");
    write_out(out);
    redraw();
}

Console::Key Console::feed(unsigned char byte) {
    if (escape_ == 1) {  // after ESC: a CSI or SS3 sequence follows, or it was a lone ESC
        escape_ = (byte == '[' || byte == 'O') ? 2 : 0;
        return Key::none;
    }
    if (escape_ == 2) {  // parameters until the final byte 0x40..0x7E
        if (byte >= 0x40 && byte <= 0x7E) escape_ = 0;
        return Key::none;
    }
    switch (byte) {
    case '\r':
    case '\n':
        return Key::enter;
    case 0x03:  // Ctrl-C
        return Key::quit;
    case 0x04:  // Ctrl-D: end of input on an empty line, as in a shell
        return line_.empty() ? Key::quit : Key::none;
    case 0x7F:  // Backspace: a whole UTF-8 character
    case 0x08:
        while (!line_.empty() && is_continuation(line_.back())) line_.pop_back();
        if (!line_.empty()) line_.pop_back();
        redraw();
        return Key::none;
    case 0x15:  // Ctrl-U
        line_.clear();
        redraw();
        return Key::none;
    case 0x1B:
        escape_ = 1;
        return Key::none;
    default:
        if (byte < 0x20) return Key::none;  // other control keys do nothing
        line_.push_back(static_cast<char>(byte));
        // Mid-character: wait for the rest of a UTF-8 sequence before drawing it.
        if (byte < 0x80 || is_continuation(static_cast<char>(byte))) redraw();
        return Key::none;
    }
}

std::optional<std::string> Console::read_line() {
    if (!interactive_) {
        for (;;) {
            if (const auto end = pending_.find('\n'); end != std::string::npos) {
                std::string line = pending_.substr(0, end);
                pending_.erase(0, end + 1);
                if (line.ends_with('\r')) line.pop_back();
                return line;
            }
            char buffer[4096];
            const ssize_t n = ::read(in_, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (pending_.empty()) return std::nullopt;
                return std::exchange(pending_, std::string{});
            }
            pending_.append(buffer, static_cast<std::size_t>(n));
        }
    }
    {
        std::lock_guard lock(mutex_);
        redraw();
    }
    for (;;) {
        if (pending_.empty()) {
            char buffer[256];
            const ssize_t n = ::read(in_, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            pending_.assign(buffer, static_cast<std::size_t>(n));
        }
        std::lock_guard lock(mutex_);
        // Keys after an Enter (a paste, or keys typed fast) stay in pending_ for the next line.
        for (std::size_t i = 0; i < pending_.size();) {
            const Key key = feed(static_cast<unsigned char>(pending_[i++]));
            if (key == Key::none) continue;
            pending_.erase(0, i);
            write_out("\r\n");  // what was typed stays on screen, above the next prompt
            if (key == Key::quit) return std::nullopt;
            return std::exchange(line_, std::string{});
        }
        pending_.clear();
    }
}

}  // namespace chat
