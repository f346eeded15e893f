// configs/README.md's key reference, generated from the key tables (config.h). The README keeps its
// hand-written prose; only the text between the two markers below is generated, and a test fails
// when the file and the tables disagree. Regenerate: attnscale config docs --update configs/README.md
#pragma once

#include <string>
#include <string_view>

namespace attnscale::config {

inline constexpr std::string_view docs_begin_marker = "<!-- BEGIN GENERATED: attnscale config docs -->";
inline constexpr std::string_view docs_end_marker = "<!-- END GENERATED: attnscale config docs -->";

// One markdown table per section: key, type, default, allowed values, description.
std::string reference_markdown();

// The text between the markers of a README (without the markers); throws ConfigError without them.
std::string generated_section(std::string_view readme);

// The README with the text between its markers replaced by `generated`.
std::string with_generated_section(std::string_view readme, std::string_view generated);

}  // namespace attnscale::config
