#include "conf/yaml_document.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace ocsp::conf {

namespace {

// The documents of a YAML stream, without building them: where each starts (scanner position
// and 1-based line) and the line its root node names in messages (lineOf's rules: 1 when
// empty).
class DocumentScan final : public YAML::EventHandler {
 public:
  struct Document {
    int pos = 0;
    int line = 1;
    int root_line = 1;
    bool root_seen = false;
  };
  std::vector<Document> documents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    documents.push_back({mark.pos, std::max(mark.line, 0) + 1});
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { root(nullptr); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { root(&mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    root(&mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    root(&mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    root(&mark);
  }
  void OnMapEnd() override {}

 private:
  void root(const YAML::Mark* mark) {
    Document& d = documents.back();
    if (d.root_seen) return;
    d.root_seen = true;
    if (mark != nullptr && mark->line >= 0) d.root_line = mark->line + 1;
  }
};

}  // namespace

Status checkOneDocument(const Loader& l, const std::string& yaml_text) {
  std::istringstream in(yaml_text);
  YAML::Parser parser(in);
  DocumentScan scan;
  while (scan.documents.size() < 3 && parser.HandleNextDocument(scan)) {
  }
  const auto& docs = scan.documents;
  for (size_t i = 1; i < docs.size(); ++i) {
    if (docs[i].pos == docs[i - 1].pos) {
      const size_t at = static_cast<size_t>(docs[i].pos);
      const std::string token = at < yaml_text.size() ? yaml_text.substr(at, 1) : "";
      return l.fail("", docs[i].line, "not valid YAML: unexpected " + inQuotes(token));
    }
  }
  if (docs.size() > 1) return l.fail("", docs[1].root_line, "more than one YAML document");
  return Ok{};
}

}  // namespace ocsp::conf
