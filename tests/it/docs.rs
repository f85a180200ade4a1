//! Generated documentation stays in step with the registry.

use crate::common::repo;

#[test]
fn rules_doc_is_generated_from_the_registry() {
    let committed = std::fs::read_to_string(repo().join("docs/RULES.md")).unwrap_or_default();
    assert!(
        committed == dq::cli::rules_markdown(),
        "docs/RULES.md is stale: run `make docs` (cargo run -q -- rules --markdown > docs/RULES.md)"
    );
}

#[test]
fn every_kind_documents_an_example() {
    for k in dq::rules::REGISTRY {
        let doc = k.doc();
        assert!(doc.contains("Example"), "{} has no example", k.name);
        assert!(doc.contains("```yaml"), "{} example is not YAML", k.name);
    }
}
