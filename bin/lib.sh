# Shared by bin/run and bin/test (sourced, not run): install what the project needs on a
# Debian machine that has only Python and git, and start the services the real-stack tier uses.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "This step needs root (or sudo): $*" >&2
        return 1
    fi
}

_apt_updated=""
# Install the Debian packages among "$@" that are not installed yet.
apt_install() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$package")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "Installing Debian packages: ${missing[*]}"
    if [ -z "$_apt_updated" ]; then
        as_root apt-get update -qq
        _apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# A virtualenv at .venv with the packages of requirements file $1 (reinstalled when it changes).
ensure_venv() {
    local requirements="$1"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
        return 1
    }
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
    # mysqlclient has no Linux wheel: it compiles against the MySQL client headers.
    apt_install default-libmysqlclient-dev pkg-config build-essential
    [ -x "$VENV/bin/python" ] || { say "Creating the virtualenv in .venv"; "$PYTHON" -m venv "$VENV"; }
    local stamp="$VENV/.installed-$(basename "$requirements")"
    if [ ! -f "$stamp" ] || [ "$ROOT/$requirements" -nt "$stamp" ] || [ "$ROOT/requirements.txt" -nt "$stamp" ]; then
        say "Installing Python packages from $requirements"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/$requirements"
        touch "$stamp"
    fi
}

# The customer's pages in every language of settings.LANGUAGES: the .po files compiled to .mo
# (which are not committed). compilemessages needs GNU gettext's msgfmt.
ensure_translations() {
    apt_install gettext
    # Run before .env may exist, and never compiling the virtualenv's own catalogues: it reads
    # no setting but LOCALE_PATHS, so a placeholder secret key is enough.
    (cd "$ROOT" && DJANGO_ENV_FILE="" DJANGO_SECRET_KEY="compilemessages" \
        "$VENV/bin/python" manage.py compilemessages --ignore=.venv --ignore=var >/dev/null)
}

# Chromium and its WebDriver from Debian, for the browser tests (Selenium finds both at /usr/bin,
# so it downloads nothing), and a font with Chinese glyphs so its screenshots show no boxes.
ensure_browser() {
    apt_install chromium chromium-driver fonts-wqy-microhei
}

# MariaDB on 127.0.0.1:3306 with a `payments` user that may create Django's test databases.
ensure_mariadb() {
    [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
    if ! mariadb-admin ping --connect-timeout=2 >/dev/null 2>&1; then
        say "Starting MariaDB"
        as_root install -d -o mysql -g mysql /run/mysqld
        as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
        local _
        for _ in $(seq 60); do
            mariadb-admin ping --connect-timeout=2 >/dev/null 2>&1 && break
            sleep 1
        done
    fi
    # Root signs in over the socket (Debian's unix_socket auth); the app user over TCP.
    # payments_owner stands for RDS's master user (every privilege, to grant too) in
    # tests/test_database_users.py: it makes the services' rows-only user as the migrate task
    # does in production (`manage.py database_users`, docs/deploy.md).
    as_root mariadb -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS payments CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'payments'@'localhost' IDENTIFIED BY 'payments';
CREATE USER IF NOT EXISTS 'payments'@'127.0.0.1' IDENTIFIED BY 'payments';
GRANT ALL PRIVILEGES ON `payments`.* TO 'payments'@'localhost', 'payments'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `test\_payments%`.* TO 'payments'@'localhost', 'payments'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'payments_owner'@'127.0.0.1' IDENTIFIED BY 'payments_owner';
GRANT ALL PRIVILEGES ON *.* TO 'payments_owner'@'127.0.0.1' WITH GRANT OPTION;
SQL
    # Named time zones: a Django date lookup or Trunc with USE_TZ is CONVERT_TZ, NULL on a fresh
    # server whose zone tables are empty. None runs today (the admin's date filter and the
    # dashboard compare created_at with bounds computed in Python); the tables keep a new one
    # from answering nothing.
    if [ "$(as_root mariadb -uroot -N -e 'SELECT COUNT(*) FROM mysql.time_zone_name')" = "0" ]; then
        say "Loading MariaDB's time zone tables"
        [ -d /usr/share/zoneinfo/Asia ] || apt_install tzdata
        mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | as_root mariadb -uroot mysql
    fi
}

# Redis on 127.0.0.1:6379, keeping nothing on disk.
ensure_redis() {
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
        say "Starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
        local _
        for _ in $(seq 30); do
            redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && break
            sleep 1
        done
    fi
}
