#pragma once
// The file-root policy both protocols share: which names may be used, opening for download,
// atomic uploads, and the listing.
//
// Names are refused, not repaired: absolute paths, ".." components, backslashes, control
// characters. Whatever passes is opened through a sockserv::FileRoot, so a symlink that leads out
// of the root is refused too — for reads and writes alike.

#include "packet.hpp"

#include <sockserv/io/file_root.hpp>
#include <sockserv/base/unique_fd.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tftp {

/// Why a requested file name cannot be used, or nullopt.
std::optional<std::string> name_problem(std::string_view name);

/// A refusal, with the TFTP error code both protocols send.
struct Refusal {
    std::uint16_t code;
    std::string message;
};

/// An upload in progress: a hidden temporary file beside the target, renamed into place by
/// commit(). Destroyed without commit() (a failed or abandoned transfer), it is removed: no half
/// file is ever left under the real name.
class Upload;
using UploadError = ProtocolError;

class Upload {
public:
    Upload(sockserv::UniqueFd directory, std::string name, std::string temporary, sockserv::UniqueFd file,
           bool replace);
    Upload(Upload&&) noexcept;
    Upload& operator=(Upload&&) = delete;
    ~Upload();

    /// Appends; throws UploadError (disk full: code 3).
    void write(std::string_view bytes);
    /// Renames the temporary file onto the name. Throws UploadError (file exists: 6, when it
    /// appeared meanwhile and replacing is off).
    void commit();
    /// Removes the temporary file now (the destructor would, later).
    void abandon() noexcept;
    std::uint64_t size() const noexcept { return size_; }

private:
    sockserv::UniqueFd directory_;
    std::string name_;
    std::string temporary_;
    sockserv::UniqueFd file_;
    bool replace_;
    bool committed_ = false;
    std::uint64_t size_ = 0;
};

struct FilePolicy {
    bool allow_upload = false;  // --allow-upload: WRQ / put at all
    bool create = false;        // --create: uploads may create new files
    bool overwrite = true;      // --no-overwrite turns it off: an existing name is "file exists"
};

class Files {
public:
    /// Throws std::system_error when the directory cannot be opened.
    Files(const std::filesystem::path& root, FilePolicy policy);

    struct Download {
        sockserv::UniqueFd file;
        std::uint64_t size = 0;
    };
    std::variant<Download, Refusal> open_for_read(std::string_view name) const;
    std::variant<Upload, Refusal> begin_upload(std::string_view name) const;
    /// Regular files at the top of the root, with sizes, sorted by name (uploads in progress left out).
    std::vector<std::pair<std::string, std::uint64_t>> list() const;

    const std::string& root() const noexcept { return root_.path(); }
    const FilePolicy& policy() const noexcept { return policy_; }

private:
    sockserv::FileRoot root_;
    FilePolicy policy_;
};

}  // namespace tftp
