// Reading raw documents for `attnscale prepare docs`: CSV, JSON Lines or tab-separated text, with
// every malformed record reported by file and line and either skipped or refused.
//   csv    RFC 4180: a header row naming the columns, fields separated by commas, a field in double
//          quotes may hold commas, newlines and doubled quotes (""). A record may span lines; it is
//          reported by the line it starts on.
//   jsonl  one JSON object per line; the text field must be a string, the label a string or an
//          integer. Blank lines are skipped (and counted).
//   text   one document per line as LABEL<TAB>TEXT (no split column). Blank lines are skipped (and
//          counted).
// Every format is UTF-8 (a leading byte order mark is skipped). A record is malformed when it is not
// valid UTF-8, cannot be parsed, has the wrong number of fields, lacks the text or label, has an
// empty label, has a split other than train/validation/test, or has no token after tokenisation
// (the caller checks that last rule, see prepare_documents). Input quoted in a reason is cut to a
// short, escaped excerpt.
#pragma once

#include <cstdint>
#include <filesystem>
#include <istream>
#include <string>
#include <vector>


namespace attnscale::data {

enum class DocFormat { csv, jsonl, text };
enum class OnError { skip, refuse };

struct RawDocument {
  std::string text;
  std::string label;
  std::string split;  // "" when the input has no split column
  std::string source;  // "file:line" of the record's first line
};

struct MalformedRecord {
  std::string source;  // "file:line"
  std::string reason;
};

struct ReadOptions {
  DocFormat format = DocFormat::csv;
  std::string text_column = "text";
  std::string label_column = "label";
  std::string split_column;  // empty = none
};

struct ReadResult {
  std::vector<RawDocument> documents;
  std::vector<MalformedRecord> malformed;
  int64_t records = 0;       // records seen (well-formed + malformed)
  int64_t blank_lines = 0;   // jsonl/text lines holding only whitespace
};

// Reads one file and appends to `result`. Throws DataError only when the file cannot be opened or
// (csv) its header lacks a named column; malformed records are collected, not thrown.
void read_documents(const std::filesystem::path& file, const ReadOptions& options, ReadResult& result);

// Skips the byte order mark EF BB BF that Windows editors put at the start of UTF-8 files.
void skip_byte_order_mark(std::istream& in);

// With OnError::refuse and any malformed record: DataError listing them (the first 20 in full).
// With skip: logs each one as a warning. Either way nothing is dropped without a trace.
void handle_malformed(const std::vector<MalformedRecord>& malformed, OnError on_error);

}  // namespace attnscale::data
