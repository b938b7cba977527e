//! DescribeCluster (key 60): the brokers and controller of the cluster.

use weir_protocol::messages::describe_cluster_request::DescribeClusterRequest;
use weir_protocol::messages::describe_cluster_response::{
    DescribeClusterBroker, DescribeClusterResponse,
};

use crate::broker::Broker;

/// Endpoint type 1 = brokers (KIP-919); 2 = controllers.
const ENDPOINT_TYPE_BROKERS: i8 = 1;
/// UNSUPPORTED_ENDPOINT_TYPE.
const UNSUPPORTED_ENDPOINT_TYPE: i16 = 119;

/// Answer DescribeCluster.
pub fn handle(
    broker: &Broker,
    _version: i16,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let (host, port) = broker.advertised();
    let mut resp = DescribeClusterResponse {
        endpoint_type: req.endpoint_type,
        cluster_id: broker.cluster_id.clone(),
        controller_id: broker.node_id(),
        cluster_authorized_operations: i32::MIN,
        ..Default::default()
    };
    if req.endpoint_type != ENDPOINT_TYPE_BROKERS {
        resp.error_code = UNSUPPORTED_ENDPOINT_TYPE;
        resp.error_message = Some("only broker endpoints are served".into());
        return resp;
    }
    resp.brokers = vec![DescribeClusterBroker {
        broker_id: broker.node_id(),
        host,
        port,
        rack: None,
        ..Default::default()
    }];
    resp
}
