// MariaDB Connector/J (Debian libmariadb-java, 2.7): DriverManager.getConnection(url) with
// jdbc:mariadb://HOST:PORT/DB?user=U&password=P&sslMode=verify-full&useSsl=true&serverSslCert=<PEM>
// 2.x knows useSsl (CA and host name checked; serverSslCert is the CA) and ignores sslMode;
// 3.x knows sslMode and maps useSsl=true to sslMode=verify-full.
// https://mariadb.com/kb/en/about-mariadb-connector-j/#tls-parameters (2.x: useSsl, serverSslCert)
// https://mariadb.com/docs/connectors/mariadb-connector-j/about-mariadb-connector-j (3.x: sslMode)
// Run as a single-file source program:
//   java -cp /usr/share/java/mariadb-java-client.jar JdbcMysql.java PREFIX
import java.sql.*;

public class JdbcMysql {
  public static void main(String[] args) {
    String prefix = args[0];
    String url = env(prefix, "URL");
    try (Connection conn = DriverManager.getConnection(url);
        Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SHOW SESSION STATUS LIKE 'Ssl_cipher'")) {
      String cipher = rs.next() ? rs.getString(2) : null;
      if (cipher == null) cipher = "";
      ok("jdbc-mysql", !cipher.isEmpty(), cipher);
    } catch (Exception e) {
      fail("jdbc-mysql", prefix, e);
    }
  }

  static String env(String prefix, String name) {
    String v = System.getenv(prefix + "_" + name);
    return v == null ? "" : v;
  }

  static void ok(String client, boolean encrypted, String detail) {
    System.out.println("{\"client\":" + json(client) + ",\"ok\":true,\"encrypted\":" + encrypted
        + ",\"detail\":" + json(detail) + "}");
  }

  static void fail(String client, String prefix, Exception e) {
    String text = e.getClass().getName() + ": " + e.getMessage();
    for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
      text += "; caused by " + c.getClass().getName() + ": " + c.getMessage();
    }
    String password = env(prefix, "PASSWORD");
    for (String secret : new String[] {env(prefix, "URL"), password,
        java.net.URLEncoder.encode(password, java.nio.charset.StandardCharsets.UTF_8)}) {
      if (!secret.isEmpty()) text = text.replace(secret, "***");
    }
    text = text.replaceAll("\\s+", " ").trim();
    if (text.length() > 1000) text = text.substring(0, 1000);
    System.out.println("{\"client\":" + json(client) + ",\"ok\":false,\"error\":" + json(text) + "}");
    System.exit(1);
  }

  static String json(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
