#include "netascii.hpp"

namespace tftp {

void netascii_encode(std::string_view in, std::string& out) {
    out.reserve(out.size() + in.size() + in.size() / 16);
    for (const char c : in) {
        if (c == '\n') out.append("\r\n");
        else if (c == '\r') out.append("\r", 1).push_back('\0');
        else out.push_back(c);
    }
}

void NetasciiDecoder::decode(std::string_view in, std::string& out) {
    out.reserve(out.size() + in.size());
    for (const char c : in) {
        if (pending_cr_) {
            pending_cr_ = false;
            if (c == '\n') {
                out.push_back('\n');
                continue;
            }
            out.push_back('\r');
            if (c == '\0') continue;
        }
        if (c == '\r') pending_cr_ = true;
        else out.push_back(c);
    }
}

void NetasciiDecoder::finish(std::string& out) {
    if (pending_cr_) out.push_back('\r');
    pending_cr_ = false;
}

}  // namespace tftp
