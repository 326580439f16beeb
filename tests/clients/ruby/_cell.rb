# Shared by the Ruby cells of the client matrix: read the link, print one JSON line.
# The block connects with the link exactly as given and returns [encrypted, detail]. run prints
# {"client","ok":true,"encrypted","detail"} and exits 0, or {"client","ok":false,"error"} and
# exits 1, with the password and the URL blanked out.
require "json"
require "erb"

module Cell
  module_function

  def link(prefix, name)
    ENV.fetch("#{prefix}_#{name}", "")
  end

  def redact(prefix, text)
    password = link(prefix, "PASSWORD")
    [link(prefix, "URL"), password, ERB::Util.url_encode(password)].each do |secret|
      text = text.gsub(secret, "***") unless secret.empty?
    end
    text.split.join(" ")[0, 1000]
  end

  def run(client)
    prefix = ARGV.fetch(0)
    begin
      encrypted, detail = yield prefix
    rescue StandardError, ScriptError => e
      puts JSON.generate(client: client, ok: false, error: redact(prefix, "#{e.class}: #{e.message}"))
      exit 1
    end
    puts JSON.generate(client: client, ok: true, encrypted: encrypted ? true : false, detail: detail)
  end
end
