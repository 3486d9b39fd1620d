//! The broker's own files in a data directory: `meta.properties` and `topics.meta`.
//!
//! `meta.properties` is Kafka's log-directory identity file (`cluster.id`, `node.id`,
//! `version`), so a data directory is recognisable to Kafka tools and cannot be reused by a
//! broker with another node id by mistake.
//!
//! Kafka keeps topic metadata in its KRaft metadata log; this broker keeps it in
//! `topics.meta`, a small `key=value` file with one `[topic]` block per topic (name, topic id
//! in Kafka's base64 form, partition count, `config.<name>` overrides). It is rewritten whole
//! on every change, through a temporary file and a rename, so a crash leaves either the old
//! or the new version. Partition data lives in `<topic>-<partition>/`, owned by the logs.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use kafka_protocol::Uuid;

use crate::BrokerError;
use crate::config;

const META_FILE: &str = "meta.properties";
const TOPICS_FILE: &str = "topics.meta";

/// One topic as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicRecord {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
}

/// The data directory's metadata files.
#[derive(Debug)]
pub(crate) struct MetadataStore {
    dir: PathBuf,
}

impl MetadataStore {
    /// Opens (creating if needed) a data directory.
    pub fn open(dir: &Path) -> Result<Self, BrokerError> {
        fs::create_dir_all(dir).map_err(|source| BrokerError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory of one partition's log.
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.dir.join(format!("{topic}-{partition}"))
    }

    /// Removes a partition's directory (deleted topic, or a creation rolled back).
    pub fn remove_partition_dir(&self, topic: &str, partition: i32) {
        let dir = self.partition_dir(topic, partition);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove partition directory")
            }
        }
    }

    /// The cluster id recorded in `meta.properties`, checked against the settings; a new
    /// directory records `wanted` (or a fresh id) and `node_id`.
    pub fn cluster_id(&self, node_id: i32, wanted: Option<&str>) -> Result<String, BrokerError> {
        let path = self.dir.join(META_FILE);
        let bad = |reason: String| BrokerError::BadMetadata {
            path: path.clone(),
            reason,
        };
        match fs::read_to_string(&path) {
            Ok(text) => {
                let props = parse_properties(&text);
                let cluster = props
                    .iter()
                    .find(|(k, _)| k == "cluster.id")
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| bad("no cluster.id".into()))?;
                let stored_node = props
                    .iter()
                    .find(|(k, _)| k == "node.id")
                    .map(|(_, v)| v.as_str());
                if stored_node != Some(node_id.to_string().as_str()) {
                    return Err(bad(format!(
                        "node.id {} does not match this broker's node id {node_id}",
                        stored_node.unwrap_or("(missing)")
                    )));
                }
                if let Some(w) = wanted.filter(|w| *w != cluster) {
                    return Err(bad(format!(
                        "cluster.id {cluster} does not match the requested {w}"
                    )));
                }
                Ok(cluster)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let cluster = wanted
                    .map(str::to_string)
                    .unwrap_or_else(|| Self::encode_uuid(crate::state::random_uuid()));
                let text = format!(
                    "#\n# written by kafka-broker\ncluster.id={cluster}\nnode.id={node_id}\nversion=1\n"
                );
                self.write_atomically(META_FILE, text.as_bytes())?;
                Ok(cluster)
            }
            Err(source) => Err(BrokerError::DataDir { path, source }),
        }
    }

    /// Every persisted topic (none in a new directory).
    pub fn load_topics(&self) -> Result<Vec<TopicRecord>, BrokerError> {
        let path = self.dir.join(TOPICS_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(BrokerError::DataDir { path, source }),
        };
        parse_topics(&text).map_err(|reason| BrokerError::BadMetadata { path, reason })
    }

    /// Replaces the persisted topics.
    pub fn save_topics(&self, topics: &[TopicRecord]) -> Result<(), BrokerError> {
        let mut text = String::from(
            "# kafka-broker topic metadata: one [topic] block per topic. Rewritten whole on every change.\nversion=1\n",
        );
        for t in topics {
            text.push_str(&format!(
                "\n[topic]\nname={}\nid={}\npartitions={}\n",
                t.name,
                Self::encode_uuid(t.id),
                t.partitions
            ));
            for (k, v) in &t.configs {
                text.push_str(&format!("config.{k}={v}\n"));
            }
        }
        self.write_atomically(TOPICS_FILE, text.as_bytes())
    }

    /// Writes `name` through a temporary file, fsync and rename.
    fn write_atomically(&self, name: &str, data: &[u8]) -> Result<(), BrokerError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let io = |source| BrokerError::DataDir {
            path: path.clone(),
            source,
        };
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(data).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        fs::rename(&tmp, &path).map_err(io)?;
        // Make the rename itself durable.
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// A UUID in Kafka's text form: URL-safe base64 without padding (22 characters).
    pub fn encode_uuid(id: Uuid) -> String {
        const DIGITS: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::with_capacity(22);
        for chunk in id.0.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let digits = chunk.len() + 1;
            for i in 0..digits {
                let d = (n >> (18 - 6 * i)) & 63;
                out.push(char::from(DIGITS[d as usize]));
            }
        }
        out
    }

    /// Parses [`encode_uuid`](Self::encode_uuid)'s form.
    pub fn decode_uuid(s: &str) -> Option<Uuid> {
        if s.len() != 22 {
            return None;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut out = Vec::with_capacity(16);
        for c in s.bytes() {
            let d = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => return None,
            };
            bits = (bits << 6) | u32::from(d);
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                out.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        // 22 digits carry 132 bits: the last 4 must be zero padding.
        if bits != 0 {
            return None;
        }
        <[u8; 16]>::try_from(out).ok().map(Uuid)
    }
}

/// `key=value` lines, comments and blanks skipped.
fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// A `[topic]` block being read.
#[derive(Default)]
struct Block {
    name: Option<String>,
    id: Option<Uuid>,
    partitions: Option<i32>,
    configs: BTreeMap<String, String>,
}

impl Block {
    fn finish(self) -> Result<TopicRecord, String> {
        let name = self.name.ok_or("a [topic] block has no name")?;
        let id = self.id.ok_or_else(|| format!("topic {name} has no id"))?;
        let partitions = self
            .partitions
            .ok_or_else(|| format!("topic {name} has no partition count"))?;
        Ok(TopicRecord {
            name,
            id,
            partitions,
            configs: self.configs,
        })
    }
}

fn parse_topics(text: &str) -> Result<Vec<TopicRecord>, String> {
    let mut topics = Vec::new();
    let mut current: Option<Block> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "[topic]" {
            if let Some(block) = current.replace(Block::default()) {
                topics.push(block.finish()?);
            }
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected key=value", n + 1))?;
        let Some(cur) = current.as_mut() else {
            if k == "version" && v == "1" {
                continue;
            }
            return Err(format!(
                "line {}: unexpected {k} outside a [topic] block",
                n + 1
            ));
        };
        match k {
            "name" => {
                config::validate_topic_name(v).map_err(|e| format!("line {}: {e}", n + 1))?;
                cur.name = Some(v.to_string());
            }
            "id" => {
                let id = MetadataStore::decode_uuid(v)
                    .filter(|id| *id != Uuid::ZERO)
                    .ok_or_else(|| format!("line {}: bad topic id {v}", n + 1))?;
                cur.id = Some(id);
            }
            "partitions" => {
                let p = v
                    .parse::<i32>()
                    .ok()
                    .filter(|p| (1..=config::MAX_PARTITIONS).contains(p))
                    .ok_or_else(|| format!("line {}: bad partition count {v}", n + 1))?;
                cur.partitions = Some(p);
            }
            _ => {
                let name = k
                    .strip_prefix("config.")
                    .ok_or_else(|| format!("line {}: unknown key {k}", n + 1))?;
                let value =
                    config::validate(name, Some(v)).map_err(|e| format!("line {}: {e}", n + 1))?;
                cur.configs.insert(name.to_string(), value);
            }
        }
    }
    if let Some(block) = current {
        topics.push(block.finish()?);
    }
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for t in &topics {
        if !names.insert(t.name.clone()) || !ids.insert(t.id) {
            return Err(format!(
                "topic {} (id {}) appears twice",
                t.name,
                MetadataStore::encode_uuid(t.id)
            ));
        }
    }
    Ok(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_round_trips_like_kafka() {
        // Kafka: Uuid.fromString("AAAAAAAAAAAAAAAAAAAAAQ") is Uuid(0, 1), the metadata topic id.
        let one = Uuid::from_u64_pair(0, 1);
        assert_eq!(MetadataStore::encode_uuid(one), "AAAAAAAAAAAAAAAAAAAAAQ");
        let id = crate::state::random_uuid();
        assert_eq!(
            MetadataStore::decode_uuid(&MetadataStore::encode_uuid(id)),
            Some(id)
        );
        assert_eq!(MetadataStore::decode_uuid("AAAAAAAAAAAAAAAAAAAAAR"), None);
        assert_eq!(MetadataStore::decode_uuid("short"), None);
    }

    #[test]
    fn topics_round_trip_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::open(dir.path()).unwrap();
        let mut configs = BTreeMap::new();
        configs.insert("retention.ms".to_string(), "1000".to_string());
        let topics = vec![TopicRecord {
            name: "a.b".into(),
            id: crate::state::random_uuid(),
            partitions: 3,
            configs,
        }];
        store.save_topics(&topics).unwrap();
        assert_eq!(store.load_topics().unwrap(), topics);
        let c = store.cluster_id(0, None).unwrap();
        assert_eq!(store.cluster_id(0, None).unwrap(), c);
        assert!(store.cluster_id(1, None).is_err());
        assert!(store.cluster_id(0, Some("other")).is_err());
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        for text in [
            "[topic]\nname=a\n",
            "name=a\n",
            "[topic]\nname=a b\nid=x\npartitions=1\n",
            "[topic]\nzzz",
        ] {
            assert!(parse_topics(text).is_err(), "{text}");
        }
    }
}
