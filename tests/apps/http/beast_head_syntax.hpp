#pragma once
// The reference parse_head_syntax() is held to: Boost.Beast's request parser, which the http app
// read heads with until it had its own (request_head.hpp says why). Test code only.

#include "request_head.hpp"

#include <string_view>

namespace http_app::reference {

/// What Beast's parser says of a head (CRLF lines through the blank line), as a HeadSyntax.
HeadSyntax beast_head_syntax(std::string_view head);

}  // namespace http_app::reference
