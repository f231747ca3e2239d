#pragma once
// netascii (RFC 764 via RFC 1350): on the wire every line ends in CR LF and a lone CR is CR NUL.
// The conversions are streams: a CR at the end of one block pairs with the first byte of the next.

#include <string>
#include <string_view>

namespace tftp {

/// File bytes -> wire bytes: LF -> CR LF, CR -> CR NUL. Stateless per byte; the sender cuts the
/// result into blocks, so an expansion that straddles a block boundary simply continues.
void netascii_encode(std::string_view in, std::string& out);

/// Wire bytes -> file bytes: CR LF -> LF, CR NUL -> CR; a CR before anything else is kept as is
/// (lenient with clients that send bare CRs).
class NetasciiDecoder {
public:
    void decode(std::string_view in, std::string& out);
    /// The end of the transfer: a CR still waiting for its partner is written as itself.
    void finish(std::string& out);

private:
    bool pending_cr_ = false;
};

}  // namespace tftp
