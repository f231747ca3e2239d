#pragma once
// The buffered rfile()/wfile() of a stream handler, over the connection's ByteStream (plain or
// encrypted: they do not know which).
//
// The reader is tied to the writer, as std::cin is to std::cout: before the reader blocks on the
// socket it flushes the writer. So writes are coalesced into few sends, yet a request/response
// protocol (read a line, write a line) never deadlocks waiting for output that was never sent.

#include <sockserv/io/byte_stream.hpp>
#include <sockserv/io/socket.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sockserv {

class SocketWriter {
public:
    static constexpr std::size_t default_buffer_size = 64 * 1024;
    /// The buffer a first write takes (a thread keeps a few of this size for the next connection).
    static constexpr std::size_t small_size = 2048;

    explicit SocketWriter(ByteStream& stream, std::size_t buffer_size = default_buffer_size)
        : stream_(&stream), buffer_size_(buffer_size) {}
    /// Over the socket's plain bytes.
    explicit SocketWriter(Socket& socket, std::size_t buffer_size = default_buffer_size)
        : plain_(socket), stream_(&*plain_), buffer_size_(buffer_size) {}
    SocketWriter(const SocketWriter&) = delete;
    SocketWriter& operator=(const SocketWriter&) = delete;
    ~SocketWriter();

    /// Queues data; sends when the buffer is full. Throws std::system_error (EPIPE when the peer
    /// has gone, TimeoutError on the socket timeout).
    void write(std::string_view data);
    /// Sends what is queued, then data, now and without copying it: for an answer already whole in
    /// the caller's memory (echo's, straight from the reader's buffer). One send when nothing is
    /// queued. Throws as write() does.
    void send(std::string_view data);
    /// Sends everything queued.
    void flush();
    /// Sends everything queued as the connection's last bytes, when a close or half-close follows
    /// at once: with MSG_MORE, so the FIN goes out in their segment, a packet (and its ACK) fewer
    /// per connection. Were no close to follow, the kernel would send them after ~200 ms.
    void flush_before_close();
    /// Sends what is queued, then `count` bytes of a file from `offset` with sendfile(2): zero copy,
    /// and the queued bytes go out with MSG_MORE so a small header shares a segment with the file's
    /// start. Returns the file bytes sent (fewer only when the file was shorter than count).
    std::size_t sendfile(int file_fd, std::uint64_t offset, std::size_t count);
    std::size_t pending() const noexcept { return size_; }
    /// Gives the buffer back when nothing is pending (its reader is about to wait idle): an idle
    /// connection holds no buffer. The next write takes one again.
    void release_buffer() noexcept;
    /// Bytes the kernel has taken through this writer, counted also when a send then failed: what
    /// a client that reset mid-response got at most (an access log's size for an aborted one).
    std::uint64_t bytes_sent() const noexcept { return sent_; }

private:
    std::optional<SocketStream> plain_;  // when made over a Socket
    ByteStream* stream_;
    std::size_t buffer_size_;
    // On the heap, not in the object: the object lives on the handler's stack, and in event mode
    // every byte of it is a byte of the fiber stack an idle connection keeps (an idle HTTP fiber
    // was 6.4 KiB deep with the buffers inline, two pages; without them it fits one). Small at
    // first, buffer_size_ once more is pending.
    std::unique_ptr<char[]> buffer_;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
    std::uint64_t sent_ = 0;
};

class SocketReader {
public:
    static constexpr std::size_t default_line_limit = 64 * 1024;
    /// The buffer a first fill takes.
    static constexpr std::size_t small_size = 2048;

    explicit SocketReader(ByteStream& stream, SocketWriter* tied = nullptr) : stream_(&stream), tied_(tied) {}
    /// Over the socket's plain bytes.
    explicit SocketReader(Socket& socket, SocketWriter* tied = nullptr)
        : plain_(socket), stream_(&*plain_), tied_(tied) {}
    SocketReader(const SocketReader&) = delete;  // buffer_ may point into the object itself
    SocketReader& operator=(const SocketReader&) = delete;
    ~SocketReader();

    /// Reads through '\n' (kept) into line, or at most limit bytes: a line that does not end in
    /// '\n' was cut at limit or at EOF. Returns false only at EOF with nothing read.
    bool readline(std::string& line, std::size_t limit = default_line_limit);
    /// Exactly n bytes into out. Returns false when EOF came first (out holds what did come).
    bool read_exact(std::string& out, std::size_t n);
    /// Up to size bytes: what is buffered, else one recv. 0 at EOF.
    std::size_t read_some(void* buffer, std::size_t size);
    /// Bytes received through this reader, in all.
    std::uint64_t bytes_received() const noexcept { return received_; }
    /// Bytes received but not yet consumed.
    std::string_view buffered() const noexcept { return {buffer_ + begin_, end_ - begin_}; }
    /// Drops n buffered bytes (after a parser consumed them from buffered()).
    void consume(std::size_t n) noexcept;
    /// Receives more into the buffer; returns the number of new bytes (0 at EOF).
    std::size_t fill();
    /// The same, but throws TimeoutError once `deadline` has passed with nothing received. A
    /// socket timeout bounds each wait; a deadline bounds the total, so a peer trickling a byte at a
    /// time still runs out (the slowloris attack).
    std::size_t fill_before(std::chrono::steady_clock::time_point deadline);

private:
    std::optional<SocketStream> plain_;  // when made over a Socket
    ByteStream* stream_;
    SocketWriter* tied_;
    // Raw storage, not std::string: no zero-filling on every receive. On the heap (see
    // SocketWriter's), taken at the first fill and given back, with the writer's, when a fill
    // finds it empty and is about to wait (an idle keep-alive connection holds neither).
    std::unique_ptr<char[]> heap_;
    char* buffer_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::uint64_t received_ = 0;
};

}  // namespace sockserv
