#pragma once
// The reference parse_head_syntax() is held to: Boost.Beast's request parser, which the http app
// read heads with until it had its own (request_head.hpp says why). Test code only.

#include "request_head.hpp"

#include <string>
#include <string_view>

namespace http_app::reference {

/// What Beast's parser says of a head (CRLF lines through the blank line), as a HeadSyntax.
HeadSyntax beast_head_syntax(std::string_view head);

/// Where two readings of a head differ: "" when they give the same verdict and (for a head both
/// accept) the same fields, else the name of the first that differs.
std::string syntax_difference(const HeadSyntax& ours, const HeadSyntax& beast);

}  // namespace http_app::reference
