//! What the proxy's unit tests share: a whole proxy over one fresh local
//! device, with real object files and a real SQLite database pool.

use std::path::Path;
use std::rc::Rc;

use crate::common::constraints::Constraints;
use crate::common::hash::HashConf;
use crate::config::TempAuthConfig;
use crate::db::DbPool;
use crate::http::stream::BodyStream;
use crate::obj::hashed::HashedManager;
use crate::obj::server::ObjectServer;
use crate::proxy::auth::TempAuth;
use crate::proxy::backend::Backend;
use crate::proxy::Proxy;

/// A proxy with the default pipeline over a fresh device at `root`, and
/// its database pool (the test shuts it down).
pub(crate) fn local_proxy(root: &Path) -> (Rc<Proxy>, DbPool) {
    let conf = HashConf {
        prefix: String::new(),
        suffix: "s".into(),
    };
    let db = DbPool::start(root.to_path_buf(), conf.clone(), 4, 1).expect("db");
    let m = HashedManager::new(root.to_path_buf(), conf, 4).expect("manager");
    let objects = Rc::new(ObjectServer::new(Rc::new(m), 64 * 1024, 1 << 20));
    let constraints = Constraints::default();
    let proxy = Rc::new(Proxy {
        features: super::mw::pipeline(&constraints),
        constraints,
        auth: TempAuth::new(TempAuthConfig::default(), [1; 32]),
        backend: Backend::local(objects),
        db: db.clone(),
        policies: Rc::new(Default::default()),
    });
    (proxy, db)
}

/// Reads `s` to its end, one string per piece it hands out, so a test
/// sees each heartbeat as its own piece.
pub(crate) async fn read_pieces(s: &mut impl BodyStream) -> Vec<String> {
    let mut pieces = Vec::new();
    loop {
        let (res, buf) = s.read(Vec::with_capacity(4096)).await;
        if res.expect("read") == 0 {
            return pieces;
        }
        pieces.push(String::from_utf8(buf).expect("utf8"));
    }
}
