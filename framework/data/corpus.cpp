#include "framework/data/corpus.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "base/logging.h"
#include "base/text.h"

namespace attnscale::data {
namespace {

struct Fields {
  std::vector<std::string> values;
  int64_t first_line = 0;
  bool unterminated = false;  // the file ended inside a quoted field
};

// Reads one RFC 4180 record; false at the end of the input. `line` counts lines read so far.
bool next_csv_record(std::istream& in, int64_t& line, Fields& record) {
  record = {};
  std::string field;
  bool in_quotes = false, any = false;
  record.first_line = line + 1;
  for (int ch; (ch = in.get()) != EOF;) {
    any = true;
    const char c = static_cast<char>(ch);
    if (in_quotes) {
      if (c == '"') {
        if (in.peek() == '"') {
          field.push_back('"');
          in.get();
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      in_quotes = true;
    } else if (c == ',') {
      record.values.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      ++line;
      if (!field.empty() && field.back() == '\r') field.pop_back();
      record.values.push_back(std::move(field));
      return true;
    } else {
      field.push_back(c);
    }
  }
  if (!any) return false;
  ++line;
  record.unterminated = in_quotes;
  record.values.push_back(std::move(field));
  return true;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// Checks label and split and appends the document (or the reason it is malformed).
void accept(RawDocument doc, ReadResult& result) {
  ++result.records;
  std::string reason;
  if (blank(doc.text)) reason = "empty text";
  else if (blank(doc.label)) reason = "empty label";
  else if (!doc.split.empty() && doc.split != "train" && doc.split != "validation" && doc.split != "test")
    reason = fmt::format("split '{}' is not train, validation or test", excerpt(doc.split));
  if (!reason.empty()) {
    result.malformed.push_back({doc.source, reason});
    return;
  }
  result.documents.push_back(std::move(doc));
}

void malformed(ReadResult& result, std::string source, std::string reason) {
  ++result.records;
  result.malformed.push_back({std::move(source), std::move(reason)});
}

int64_t column_index(const std::vector<std::string>& header, const std::string& name,
                     const std::filesystem::path& file, const char* option) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int64_t>(i);
  throw DataError(fmt::format("[prepare] {}: {} '{}' is not a column of the header ({})", file.string(), option,
                              name, excerpt(fmt::format("{}", fmt::join(header, ", ")))));
}

// Every field must be valid UTF-8, as JSON Lines requires of its strings.
std::optional<std::string> invalid_field(const Fields& record, const Fields& header) {
  for (size_t i = 0; i < record.values.size(); ++i)
    if (auto problem = utf8_problem(record.values[i], fmt::format("field '{}'", excerpt(header.values[i]))))
      return problem;
  return std::nullopt;
}

void read_csv(std::istream& in, const std::filesystem::path& file, const ReadOptions& o, ReadResult& result) {
  int64_t line = 0;
  Fields header;
  if (!next_csv_record(in, line, header)) throw DataError(fmt::format("[prepare] {}: empty file", file.string()));
  const int64_t text_col = column_index(header.values, o.text_column, file, "--text-column");
  const int64_t label_col = column_index(header.values, o.label_column, file, "--label-column");
  const int64_t split_col = o.split_column.empty() ? -1 : column_index(header.values, o.split_column, file, "--split-column");
  for (Fields record; next_csv_record(in, line, record);) {
    const std::string source = fmt::format("{}:{}", file.string(), record.first_line);
    if (record.unterminated) {
      malformed(result, source, "unterminated quoted field (the file ends inside quotes)");
    } else if (record.values.size() != header.values.size()) {
      if (record.values.size() == 1 && blank(record.values[0])) continue;  // trailing blank line
      malformed(result, source,
                fmt::format("{} fields where the header has {}", record.values.size(), header.values.size()));
    } else if (const auto problem = invalid_field(record, header)) {
      malformed(result, source, *problem);
    } else {
      accept({record.values[text_col], record.values[label_col], split_col < 0 ? "" : record.values[split_col], source},
             result);
    }
  }
}

// A JSON label may be a string or an integer (written as its decimal digits).
bool json_string(const nlohmann::json& object, const std::string& key, bool allow_integer, std::string& out) {
  const auto it = object.find(key);
  if (it == object.end()) return false;
  if (it->is_string()) out = it->get<std::string>();
  else if (allow_integer && it->is_number_integer()) out = std::to_string(it->get<int64_t>());
  else return false;
  return true;
}

void read_jsonl(std::istream& in, const std::filesystem::path& file, const ReadOptions& o, ReadResult& result) {
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const std::string source = fmt::format("{}:{}", file.string(), line_no);
    if (blank(line)) {
      ++result.blank_lines;
      continue;
    }
    if (const auto problem = utf8_problem(line, "the line")) {
      malformed(result, source, *problem);
      continue;
    }
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      malformed(result, source, fmt::format("invalid JSON ({})", excerpt(e.what(), 160)));
      continue;
    }
    RawDocument doc;
    doc.source = source;
    if (!object.is_object()) {
      malformed(result, source, "not a JSON object");
    } else if (!json_string(object, o.text_column, false, doc.text)) {
      malformed(result, source, fmt::format("no string field '{}'", o.text_column));
    } else if (!json_string(object, o.label_column, true, doc.label)) {
      malformed(result, source, fmt::format("no string or integer field '{}'", o.label_column));
    } else if (!o.split_column.empty() && !json_string(object, o.split_column, false, doc.split)) {
      malformed(result, source, fmt::format("no string field '{}'", o.split_column));
    } else {
      accept(std::move(doc), result);
    }
  }
}

void read_text(std::istream& in, const std::filesystem::path& file, ReadResult& result) {
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string source = fmt::format("{}:{}", file.string(), line_no);
    if (blank(line)) {
      ++result.blank_lines;
      continue;
    }
    if (const auto problem = utf8_problem(line, "the line")) {
      malformed(result, source, *problem);
      continue;
    }
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      malformed(result, source, "no tab between label and text");
      continue;
    }
    accept({line.substr(tab + 1), line.substr(0, tab), "", source}, result);
  }
}

}  // namespace

// Editors on Windows start UTF-8 files with EF BB BF; it is not part of the first header or record.
void skip_byte_order_mark(std::istream& in) {
  char bom[3] = {};
  in.read(bom, 3);
  if (in.gcount() == 3 && std::string_view(bom, 3) == "\xEF\xBB\xBF") return;
  in.clear();
  in.seekg(0);
}

void read_documents(const std::filesystem::path& file, const ReadOptions& options, ReadResult& result) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(fmt::format("[prepare] cannot open '{}'", file.string()));
  skip_byte_order_mark(in);
  switch (options.format) {
    case DocFormat::csv: read_csv(in, file, options, result); break;
    case DocFormat::jsonl: read_jsonl(in, file, options, result); break;
    case DocFormat::text:
      if (!options.split_column.empty())
        throw UsageError("[prepare] --split-column needs --format csv or jsonl (text lines have no split)");
      read_text(in, file, result);
      break;
  }
  if (in.bad()) throw DataError(fmt::format("[prepare] reading '{}' failed", file.string()));
}

void handle_malformed(const std::vector<MalformedRecord>& malformed, OnError on_error) {
  if (malformed.empty()) return;
  if (on_error == OnError::skip) {
    for (const auto& m : malformed) LOG_WARN("[prepare] skipping malformed record at {}: {}", m.source, m.reason);
    return;
  }
  constexpr size_t kListed = 20;
  std::string list;
  for (size_t i = 0; i < std::min(malformed.size(), kListed); ++i)
    list += fmt::format("\n  {}: {}", malformed[i].source, malformed[i].reason);
  if (malformed.size() > kListed) list += fmt::format("\n  ... and {} more", malformed.size() - kListed);
  throw DataError(fmt::format("[prepare] {} malformed record(s), refused (--on-error skip would skip them):{}",
                              malformed.size(), list));
}

}  // namespace attnscale::data
