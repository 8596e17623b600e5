// Fetches one https URL with the JVM's default trust (javax.net.ssl.* from JAVA_TOOL_OPTIONS) and
// prints the body. Used by test/ca/trust.test.ts to prove the Veil truststore works in a real JVM.
import java.io.InputStream;
import java.net.URL;
import javax.net.ssl.HttpsURLConnection;

public class TrustProbe {
  public static void main(String[] args) throws Exception {
    HttpsURLConnection connection = (HttpsURLConnection) new URL(args[0]).openConnection();
    connection.setConnectTimeout(10_000);
    connection.setReadTimeout(10_000);
    try (InputStream in = connection.getInputStream()) {
      System.out.println(new String(in.readAllBytes(), "UTF-8"));
    }
  }
}
