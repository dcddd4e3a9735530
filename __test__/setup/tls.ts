/**
 * A throwaway certificate authority for the TLS tests, made with the openssl CLI: a CA, and a
 * server certificate it signs for `localhost` and `127.0.0.1`, good as a client certificate too
 * (the nodes of a TLS cluster present it to each other on the cluster bus).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface TestPki {
  dir: string;
  /** PEM of the CA. */
  ca: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Removes the files. */
  remove(): void;
}

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA named `cn` and a server certificate it signed (P-256 keys: quick to make). */
export function makePki(cn: string): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferro-pki-'));
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl(dir, 'req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  const caFile = path.join(dir, 'ca.crt');
  return {
    dir,
    ca: fs.readFileSync(caFile, 'utf8'),
    caFile,
    certFile: path.join(dir, 'server.crt'),
    keyFile: path.join(dir, 'server.key'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
