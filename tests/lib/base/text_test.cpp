// Text from the network made safe to show: UTF-8 validation and control-character escaping.

#include <sockserv/base/text.hpp>

#include <catch2/catch.hpp>

using namespace sockserv;

TEST_CASE("is_valid_utf8 accepts well-formed UTF-8 and refuses the rest", "[text]") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ascii"));
    CHECK(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));          // cut short
    CHECK_FALSE(is_valid_utf8("\x80"));              // lone continuation
    CHECK_FALSE(is_valid_utf8("\xff"));
}

TEST_CASE("has_control_characters finds C0 - DEL and C1 but not tab or text", "[text]") {
    CHECK_FALSE(has_control_characters("tab\tis fine, caf\xc3\xa9 too"));
    CHECK(has_control_characters("bell\a"));
    CHECK(has_control_characters("esc\x1b[2J"));
    CHECK(has_control_characters("del\x7f"));
    CHECK(has_control_characters("csi\xc2\x9b"));
    CHECK_FALSE(has_control_characters("nbsp\xc2\xa0"));
}

TEST_CASE("escape_control_characters leaves text alone and writes every dangerous byte as hex", "[text]") {
    CHECK(escape_control_characters("GET /caf\xc3\xa9 HTTP/1.1") == "GET /caf\xc3\xa9 HTTP/1.1");
    CHECK(escape_control_characters("a\x1b[31mred") == "a\\x1b[31mred");
    CHECK(escape_control_characters("line\r\nforged") == "line\\x0d\\x0aforged");
    CHECK(escape_control_characters("tab\there") == "tab\\x09here");
    CHECK(escape_control_characters("c1\xc2\x9b") == "c1\\xc2\\x9b");
    CHECK(escape_control_characters("bad\xff\xfe") == "bad\\xff\\xfe");
    CHECK(escape_control_characters("cut\xe2\x82") == "cut\\xe2\\x82");
    CHECK(escape_control_characters(std::string("nul\0x", 5)) == "nul\\x00x");
    CHECK(escape_control_characters("back\\x1b") == "back\\\\x1b");  // a literal \x1b cannot pass as an escape
    CHECK(escape_control_characters("del\x7f") == "del\\x7f");
}

TEST_CASE("append_escaped appends the escaped text after what is there", "[text]") {
    std::string line = "prefix \"";
    append_escaped(line, "GET /\x1b]0;x\x07 caf\xc3\xa9\\ \xc2\x9b\xff end");
    CHECK(line == "prefix \"GET /\\x1b]0;x\\x07 caf\xc3\xa9\\\\ \\xc2\\x9b\\xff end");
    append_escaped(line, "");
    CHECK(line.ends_with(" end"));
}

TEST_CASE("ascii_lower folds ASCII letters only and trim_blanks drops spaces and tabs", "[text]") {
    CHECK(ascii_lower("BlkSize NetASCII .HTML") == "blksize netascii .html");
    CHECK(ascii_lower("CAF\xc3\x89") == "caf\xc3\x89");  // not a Unicode case mapping: bytes >= 0x80 kept
    CHECK(ascii_iequal("Content-Type", "content-TYPE"));
    CHECK_FALSE(ascii_iequal("Content-Type", "Content-Typ"));
    CHECK_FALSE(ascii_iequal("\xc3\x89", "\xc3\xa9"));  // ASCII letters only
    CHECK_FALSE(ascii_iequal("[", "{"));  // '[' is not a capital of '{'
    CHECK(trim_blanks(" \t value \t ") == "value");
    CHECK(trim_blanks("inner  space") == "inner  space");
    CHECK(trim_blanks(" \t ").empty());
}
