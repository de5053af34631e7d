// The store's principals on genuine MongoDB (docs/adr/0039, 0044), from the password files compose mounts at
// /run/binhchon/store-credentials (infra/compose/credentials.sh): each service a user with readWrite on its own
// database only (binhchon_<service>), the auditor a user reading every service's database and writing none.
// mongo:8.0 runs this once, when its volume is new (/docker-entrypoint-initdb.d); it is idempotent, so after a
// rotation ops run it again as the root user (infra/compose/README.md):
//   docker compose exec mongo sh -c 'mongosh -u admin -p "$(cat /run/binhchon/store-credentials/admin.password)" \
//     --authenticationDatabase admin --quiet /docker-entrypoint-initdb.d/binhchon-principals.js'
// A user that exists gets the new password (its open connections stay signed in: restart that service).
const fs = require("fs");
const dir = process.env.BINHCHON_STORE_CREDENTIALS || "/run/binhchon/store-credentials";
const services = ["intake", "scoring", "certification", "notify"];
const password = (name) => fs.readFileSync(`${dir}/${name}.password`, "utf8").trim();
const admin = db.getSiblingDB("admin");
const mechanisms = ["SCRAM-SHA-256"];

function ensure(name, roles) {
  const pwd = password(name);
  if (admin.getUser(name)) {
    admin.updateUser(name, { pwd, roles, mechanisms });
  } else {
    admin.createUser({ user: name, pwd, roles, mechanisms });
  }
  print(`[principals] ${name}: ${roles.map((r) => `${r.role}@${r.db}`).join(", ")}`);
}

for (const service of services) {
  ensure(service, [{ role: "readWrite", db: `binhchon_${service}` }]);
}
ensure("auditor", services.map((service) => ({ role: "read", db: `binhchon_${service}` })));
