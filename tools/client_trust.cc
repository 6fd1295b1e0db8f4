#include "tools/client_trust.h"

#include <string>

namespace ocsp::tools {

std::string clientTrustText(const ResponderFiles& f) {
  std::string t;
  t += "Wrote " + f.key_path + " (mode 0600: chown it to the user the proxy runs as)\n";
  if (f.csr_path.empty()) {
    t += "Wrote " + f.cert_path + " (self-signed OCSP responder certificate)\n";
  } else {
    t += "Wrote " + f.csr_path +
         " (certificate request)\n"
         "\n"
         "Next: have the site's CA sign " + f.csr_path + " keeping its extensions\n"
         "(extendedKeyUsage OCSPSigning, OCSP No Check, CA:FALSE, keyUsage digitalSignature)\n"
         "and install the certificate as " + f.cert_path + " (PEM). Its fingerprint:\n"
         "  openssl x509 -in " + f.cert_path + " -noout -fingerprint -sha256\n";
  }
  t += "\nSubject: " + f.subject + "\n";
  if (!f.sha256_fingerprint.empty()) t += "SHA-256: " + f.sha256_fingerprint + "\n";
  t += "\n"
       "1. Config (then check it with: ocsp-proxy --check-config):\n"
       "\n"
       "crl_bridge:\n"
       "  key: " + f.key_path + "\n"
       "  cert: " + f.cert_path + "\n"
       "\n"
       "2. Clients. The proxy signs its answers for CRL-only CAs with this key: neither the CA\n"
       "nor a responder the CA certified. A client accepts them only when it is configured to\n"
       "trust this certificate as its OCSP responder (RFC 6960 \xC2\xA7" "4.2.2.2, trusted\n"
       "responder). Check the SHA-256 fingerprint above before trusting the file anywhere.\n"
       "PROXY stands for the proxy's URL, e.g. http://ocsp-proxy.example.org/.\n"
       "\n"
       "OpenSSL (openssl ocsp; programs that take a trusted responder certificate):\n"
       "  openssl ocsp -issuer CA.pem -cert LEAF.pem -url PROXY -VAfile responder.pem\n"
       "\n"
       "Java (PKIX revocation checking, JSSE): security properties, in\n"
       "$JAVA_HOME/conf/security/java.security or a file named by\n"
       "-Djava.security.properties=FILE:\n"
       "  ocsp.enable=true\n"
       "  ocsp.responderURL=PROXY\n"
       "  ocsp.responderCertSubjectName=" + f.subject + "\n"
       "and the certificate in the truststore the application uses (the responder certificate\n"
       "is looked up by that subject among the trust anchors):\n"
       "  keytool -importcert -noprompt -alias ocsp-proxy-responder -file responder.pem \\\n"
       "    -keystore TRUSTSTORE\n"
       "TLS clients also need -Dcom.sun.net.ssl.checkRevocation=true. ocsp.responderURL sends\n"
       "every OCSP request of that JVM to the proxy, for every CA.\n"
       "\n"
       "NSS (applications that set NSS's default OCSP responder, e.g. mod_nss):\n"
       "  certutil -A -d sql:NSSDB -n ocsp-proxy-responder -t \",,\" -a -i responder.pem\n"
       "then name it the default responder (API: CERT_SetOCSPDefaultResponder(db, PROXY,\n"
       "\"ocsp-proxy-responder\") and CERT_EnableOCSPDefaultResponder(db); mod_nss:\n"
       "NSSOCSP on, NSSOCSPDefaultResponder on, NSSOCSPDefaultURL PROXY,\n"
       "NSSOCSPDefaultName ocsp-proxy-responder). NSS accepts the default responder's\n"
       "certificate as configured, without trust flags (they would make it a trust anchor).\n"
       "Firefox and Thunderbird cannot use it: they accept only answers signed by the CA or\n"
       "by a responder the CA certified, and have no default-responder setting.\n"
       "\n"
       "Windows (CryptoAPI, Vista SP1 and later): an independent responder's certificate must\n"
       "carry OCSPSigning and chain to a trusted root; a self-signed one is its own root.\n"
       "By GPO: Computer Configuration > Policies > Windows Settings > Security Settings >\n"
       "Public Key Policies > Trusted Root Certification Authorities > Import responder.pem;\n"
       "then under Intermediate Certification Authorities (import each CRL-only CA's\n"
       "certificate there if missing): Properties > OCSP > Add URL PROXY. On one machine:\n"
       "  certutil -addstore Root responder.pem\n"
       "With --csr, when the site's own CA certified the key and its root is already trusted\n"
       "(an enterprise CA on domain members), only the OCSP URL is needed.\n"
       "\n"
       "Where the certificate becomes a trust anchor (a Java truststore, the Windows Root\n"
       "store), guard the key like a CA key.\n"
       "Full text: docs/client-trust.md.\n";
  return t;
}

}  // namespace ocsp::tools
