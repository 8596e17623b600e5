import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** java.net.http.HttpClient with defaults: proxy and truststore come from JAVA_TOOL_OPTIONS only. */
public class Client {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        String envName = args[1];
        String value = System.getenv().getOrDefault(envName, "");
        System.out.println("client-saw " + envName + "=" + value);
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(url))
            .header("Authorization", "Bearer " + value)
            .timeout(Duration.ofSeconds(20))
            .build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println("status " + response.statusCode());
        System.out.println("body " + response.body().split("\n")[0]);
    }
}
