#pragma once
// Phase 0 of the config loader (conf/config.h): the text must be one YAML document, checked
// without building it.
#include <string>

#include "conf/yaml_schema.h"
#include "core/result.h"

namespace ocsp::conf {

// Phase 0: the text is one YAML document. Not YAML::LoadAll: in yaml-cpp 0.7 (Debian 12) it
// never returns when a node starts with ',' ("-\n,", ",a"): the parser reports an empty
// document without consuming the token, again and again, and LoadAll keeps every one until
// memory runs out (jbeder/yaml-cpp#1040, fixed upstream by #1319; found by
// tests/fuzz/fuzz_config). So the documents are only counted here, at most three, and a
// document that starts where the one before it did is that stuck parser. Throws
// YAML::Exception for invalid YAML, like YAML::Load.
Status checkOneDocument(const Loader& l, const std::string& yaml_text);

}  // namespace ocsp::conf
