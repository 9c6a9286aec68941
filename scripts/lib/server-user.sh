# Shared by scratch-servers.sh and replicas.sh (sourced): how a private server is run, and whether a port answers.
# As root, each server runs as its own system user (postgres refuses to run as root); as anyone else, as that user.
if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
  own() { chown -R "$1" "$2"; }
  my_user=(--user=mysql)
else
  as_pg() { "$@"; }
  own() { :; }
  my_user=()
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
