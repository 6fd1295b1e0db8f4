// The revocation check a Java application makes (PKIX CertPathValidator with a
// PKIXRevocationChecker, OCSP only), for the integration tier's real-client tests
// (tests/integration/clients.py). Compiled once per test session.
//
// Usage: java RevocationCheck LEAF ISSUER ROOT [--responder URL] [--whole-chain]
//   LEAF ISSUER ROOT  PEM files; ROOT is the only trust anchor.
//   --responder URL   PKIXRevocationChecker.setOcspResponder (overrides the leaf's AIA URL)
//   --whole-chain     check ISSUER too (default: ONLY_END_ENTITY)
// The JVM's own properties choose the rest: -Dhttp.proxyHost/-Dhttp.proxyPort (an HTTP
// proxy for the OCSP fetch), -Djdk.security.certpath.ocspNonce=true (send a nonce),
// -Djava.security.debug=certpath (trace).
// Prints one line, "verdict: good", "verdict: revoked <reason>" or "verdict: error <message>",
// and exits 0, 1 or 2 accordingly.
import java.io.FileInputStream;
import java.net.URI;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateRevokedException;
import java.security.cert.PKIXParameters;
import java.security.cert.PKIXRevocationChecker;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

public final class RevocationCheck {
  private static X509Certificate load(CertificateFactory cf, String path) throws Exception {
    try (FileInputStream in = new FileInputStream(path)) {
      return (X509Certificate) cf.generateCertificate(in);
    }
  }

  public static void main(String[] args) throws Exception {
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    X509Certificate leaf = load(cf, args[0]);
    X509Certificate issuer = load(cf, args[1]);
    X509Certificate root = load(cf, args[2]);
    String responder = null;
    boolean wholeChain = false;
    for (int i = 3; i < args.length; i++) {
      if (args[i].equals("--responder")) {
        responder = args[++i];
      } else if (args[i].equals("--whole-chain")) {
        wholeChain = true;
      } else {
        throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    CertPath path = cf.generateCertPath(List.of(leaf, issuer));
    CertPathValidator validator = CertPathValidator.getInstance("PKIX");
    PKIXRevocationChecker checker = (PKIXRevocationChecker) validator.getRevocationChecker();
    EnumSet<PKIXRevocationChecker.Option> options =
        EnumSet.of(PKIXRevocationChecker.Option.NO_FALLBACK);  // OCSP only, never a CRL
    if (!wholeChain) options.add(PKIXRevocationChecker.Option.ONLY_END_ENTITY);
    checker.setOptions(options);
    if (responder != null) checker.setOcspResponder(new URI(responder));
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
    params.addCertPathChecker(checker);  // replaces the default revocation checker
    try {
      validator.validate(path, params);
      System.out.println("verdict: good");
      System.exit(0);
    } catch (CertPathValidatorException e) {
      Throwable cause = e;
      while (cause != null && !(cause instanceof CertificateRevokedException)) {
        cause = cause.getCause();
      }
      if (cause != null || e.getReason() == CertPathValidatorException.BasicReason.REVOKED) {
        String reason = cause != null
            ? ((CertificateRevokedException) cause).getRevocationReason().toString() : "";
        System.out.println("verdict: revoked " + reason);
        System.exit(1);
      }
      System.out.println("verdict: error " + e.getMessage());
      System.exit(2);
    }
  }
}
