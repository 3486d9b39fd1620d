//! [`AclOperation`]: what a caller may do with a resource, as decoded from the
//! "authorized operations" bit sets of Metadata, DescribeCluster and DescribeGroups.

use std::collections::BTreeSet;

/// An ACL operation (Kafka's `AclOperation` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AclOperation {
    /// Any operation (in filters).
    Any,
    /// Every operation.
    All,
    /// Read.
    Read,
    /// Write.
    Write,
    /// Create.
    Create,
    /// Delete.
    Delete,
    /// Alter.
    Alter,
    /// Describe.
    Describe,
    /// Inter-broker operations.
    ClusterAction,
    /// Describe configs.
    DescribeConfigs,
    /// Alter configs.
    AlterConfigs,
    /// Idempotent produce.
    IdempotentWrite,
    /// Create delegation tokens.
    CreateTokens,
    /// Describe delegation tokens.
    DescribeTokens,
    /// A code this client does not know.
    Unknown(u8),
}

impl AclOperation {
    /// The operation with wire code `code`.
    pub const fn from_code(code: u8) -> Self {
        match code {
            1 => AclOperation::Any,
            2 => AclOperation::All,
            3 => AclOperation::Read,
            4 => AclOperation::Write,
            5 => AclOperation::Create,
            6 => AclOperation::Delete,
            7 => AclOperation::Alter,
            8 => AclOperation::Describe,
            9 => AclOperation::ClusterAction,
            10 => AclOperation::DescribeConfigs,
            11 => AclOperation::AlterConfigs,
            12 => AclOperation::IdempotentWrite,
            13 => AclOperation::CreateTokens,
            14 => AclOperation::DescribeTokens,
            other => AclOperation::Unknown(other),
        }
    }
}

/// The sentinel brokers send when authorized operations were not asked for.
const NOT_REQUESTED: i32 = i32::MIN;

/// Decodes an authorized-operations bit set (bit `n` set: operation `n` allowed); `None` when
/// the broker did not compute it (`i32::MIN`).
pub(crate) fn decode_operations(bits: i32) -> Option<BTreeSet<AclOperation>> {
    if bits == NOT_REQUESTED {
        return None;
    }
    Some(
        (0u8..31)
            .filter(|n| bits & (1 << n) != 0)
            .map(AclOperation::from_code)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_sets_decode() {
        assert_eq!(decode_operations(i32::MIN), None);
        assert_eq!(decode_operations(0), Some(BTreeSet::new()));
        let ops = decode_operations((1 << 3) | (1 << 8) | (1 << 20)).unwrap();
        assert_eq!(
            ops.into_iter().collect::<Vec<_>>(),
            [
                AclOperation::Read,
                AclOperation::Describe,
                AclOperation::Unknown(20)
            ]
        );
    }
}
