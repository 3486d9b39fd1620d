//! The assignment file of a cluster with a data directory: `<data-dir>/cluster-metadata.json`,
//! each topic's id and, per partition, its replicas, leader, leader epoch and ISR. Rewritten
//! whole (temporary file, fsync, rename) after every change of a leader or an ISR, so a
//! restarted cluster resumes with the same leaders and epochs (one higher) and the same
//! ISRs. The brokers' own `topics.meta` files stay the source of truth for which topics
//! exist and their configs; this file only adds who holds what.
//!
//! ```json
//! {"version": 1, "topics": [{"name": "t", "id": "<Kafka base64 uuid>", "partitions": [
//!   {"replicas": [0, 1, 2], "leader": 0, "leader_epoch": 3, "isr": [0, 1, 2]}]}]}
//! ```

use std::io::Write;
use std::path::PathBuf;

use kafka_protocol::Uuid;
use serde_json::{Value, json};

use crate::BrokerError;
use crate::server::metadata_store::MetadataStore;

/// The file's name in the cluster's data directory.
pub(crate) const FILE: &str = "cluster-metadata.json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionAssignment {
    pub replicas: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicAssignment {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<PartitionAssignment>,
}

#[derive(Debug)]
pub(crate) struct AssignmentStore {
    dir: PathBuf,
}

impl AssignmentStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The assignments saved last; none if there is no file yet.
    pub fn load(&self) -> Result<Vec<TopicAssignment>, BrokerError> {
        let path = self.dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(BrokerError::DataDir { path, source }),
        };
        parse(&text).map_err(|reason| BrokerError::BadMetadata {
            path,
            reason: reason.to_string(),
        })
    }

    pub fn save(&self, topics: &[TopicAssignment]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let text = encode(topics);
        let path = self.dir.join(FILE);
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn encode(topics: &[TopicAssignment]) -> String {
    let mut sorted: Vec<&TopicAssignment> = topics.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let topics: Vec<Value> = sorted
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "id": MetadataStore::encode_uuid(t.id),
                "partitions": t.partitions.iter().map(|p| json!({
                    "replicas": p.replicas,
                    "leader": p.leader,
                    "leader_epoch": p.leader_epoch,
                    "isr": p.isr,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({ "version": 1, "topics": topics });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn ints(v: &Value, what: &'static str) -> Result<Vec<i32>, &'static str> {
    v.as_array()
        .ok_or(what)?
        .iter()
        .map(|x| x.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or(what))
        .collect()
}

fn parse(text: &str) -> Result<Vec<TopicAssignment>, &'static str> {
    let doc: Value = serde_json::from_str(text).map_err(|_| "not JSON")?;
    if doc["version"].as_i64() != Some(1) {
        return Err("unknown version");
    }
    let mut out = Vec::new();
    for t in doc["topics"].as_array().ok_or("no topics list")? {
        let name = t["name"]
            .as_str()
            .ok_or("a topic without a name")?
            .to_string();
        let id = t["id"]
            .as_str()
            .and_then(MetadataStore::decode_uuid)
            .ok_or("a topic without a valid id")?;
        let mut partitions = Vec::new();
        for p in t["partitions"]
            .as_array()
            .ok_or("a topic without partitions")?
        {
            let replicas = ints(&p["replicas"], "bad replicas")?;
            let isr = ints(&p["isr"], "bad isr")?;
            if replicas.is_empty() || isr.is_empty() {
                return Err("empty replicas or isr");
            }
            partitions.push(PartitionAssignment {
                replicas,
                leader: p["leader"]
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or("bad leader")?,
                leader_epoch: p["leader_epoch"]
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or("bad leader epoch")?,
                isr,
            });
        }
        out.push(TopicAssignment {
            name,
            id,
            partitions,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = AssignmentStore::new(dir.path().to_path_buf());
        assert!(store.load().unwrap().is_empty());
        let topics = vec![TopicAssignment {
            name: "t".into(),
            id: Uuid([7; 16]),
            partitions: vec![PartitionAssignment {
                replicas: vec![1, 2, 0],
                leader: 2,
                leader_epoch: 4,
                isr: vec![2, 0],
            }],
        }];
        store.save(&topics).unwrap();
        assert_eq!(store.load().unwrap(), topics);
        std::fs::write(dir.path().join(FILE), "{").unwrap();
        assert!(store.load().is_err());
    }
}
