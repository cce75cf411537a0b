"""The musicagent code generator: spec/discogs.yaml in, src/musicagent/_generated/ out."""
