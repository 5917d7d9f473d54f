import { X509Certificate, createPrivateKey } from 'node:crypto';

/** What is wrong with PEM text meant as certificates (a CA bundle or a chain), or undefined when it parses. */
export function certificateProblem(pem: string): string | undefined {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) {
    return pem.includes('-----BEGIN TRUSTED CERTIFICATE-----')
      ? undefined
      : `holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block); point it at the certificate file in PEM form`;
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      return 'holds a "-----BEGIN CERTIFICATE-----" block that is not a valid certificate; replace the file with an intact copy';
    }
  }
  return undefined;
}

/** What is wrong with PEM text meant as a private key, or undefined when it parses. Never quotes the key. */
export function privateKeyProblem(pem: string): string | undefined {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    return 'is encrypted, and redis-probe takes no passphrase; store it decrypted (openssl pkey -in encrypted.pem -out key.pem) in a Secret';
  }
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem)) {
    return 'holds no PEM private key (a "-----BEGIN PRIVATE KEY-----" block, or RSA/EC PRIVATE KEY); point it at the key file in PEM form';
  }
  try {
    createPrivateKey(pem);
  } catch {
    return 'holds a private key block that is not a valid key; replace the file with an intact copy';
  }
  return undefined;
}

/** Whether the first certificate of `certPem` (the leaf of a chain) belongs to `keyPem`; both must parse. */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  const leaf = certPem.match(CERTIFICATE_BLOCK)?.[0];
  if (leaf === undefined) return false;
  try {
    return new X509Certificate(leaf).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
