package models

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql/driver"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Cipher seals secrets with AES-256-GCM. The stored form is "v1:" + base64(nonce ‖ ciphertext),
// with the table and column as additional data so a sealed value cannot be moved to another column.
type Cipher struct{ aead cipher.AEAD }

// NewCipher takes a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key: must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

// ParseKey decodes a base64 (standard or URL, padded or not) 32-byte key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("secret key: must be 32 bytes encoded in base64")
}

// LoadOrCreateKeyFile reads a base64 key from path, or writes a new random one there (mode 0600)
// when the file does not exist. created reports the latter so the caller can warn about backups.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("secret key: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("secret key: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write a different key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("secret key: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, false, fmt.Errorf("secret key: %w", werr)
	}
	return k, true, nil
}

const sealPrefix = "v1:"

// Seal encrypts plain for the column named by aad.
func (c *Cipher) Seal(plain, aad string) string {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("secret: no randomness: " + err.Error())
	}
	out := c.aead.Seal(nonce, nonce, []byte(plain), []byte(aad))
	return sealPrefix + base64.StdEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal for the same aad.
func (c *Cipher) Open(sealed, aad string) (string, error) {
	if !strings.HasPrefix(sealed, sealPrefix) {
		return "", errors.New("secret: unknown format")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealPrefix))
	if err != nil || len(raw) < c.aead.NonceSize() {
		return "", errors.New("secret: corrupt value")
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", errors.New("secret: cannot decrypt (was WECOMFLOW_SECRET_KEY changed?)")
	}
	return string(plain), nil
}

// Secret is a string column stored encrypted. The store seals it on every write and opens it on
// every read (gorm callbacks), so code handles the plain value and the database never sees it.
// It prints as "***" in logs and JSON so a stray %v cannot leak it.
type Secret struct {
	Plain  string
	sealed string
}

// NewSecret wraps a plain value.
func NewSecret(plain string) Secret { return Secret{Plain: plain} }

// Set reports whether the secret holds a value.
func (s Secret) Set() bool { return s.Plain != "" }

func (s Secret) String() string               { return "***" }
func (s Secret) GoString() string             { return "models.Secret{***}" }
func (s Secret) LogValue() slog.Value         { return slog.StringValue("***") }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"***"`), nil }

// Value refuses to write a value that was not sealed: a write that bypassed the callbacks
// would otherwise put plain text in the database.
func (s Secret) Value() (driver.Value, error) {
	if s.Plain == "" {
		return "", nil
	}
	if s.sealed == "" {
		return nil, errors.New("secret: refusing to write an unsealed value")
	}
	return s.sealed, nil
}

// Scan keeps the sealed form; the query callback opens it.
func (s *Secret) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s = Secret{}
	case string:
		*s = Secret{sealed: v}
	case []byte:
		*s = Secret{sealed: string(v)}
	default:
		return fmt.Errorf("secret: cannot scan %T", v)
	}
	return nil
}

// GormDataType keeps the column wide enough for the sealed form on MySQL.
func (Secret) GormDataType() string { return "text" }

var secretType = reflect.TypeOf(Secret{})

func registerSecretCallbacks(db *gorm.DB, c *Cipher) {
	seal := func(tx *gorm.DB) { eachSecret(tx, c, true) }
	open := func(tx *gorm.DB) { eachSecret(tx, c, false) }
	cb := db.Callback()
	_ = cb.Create().Before("gorm:create").Register("wecomflow:seal_secrets", seal)
	_ = cb.Update().Before("gorm:update").Register("wecomflow:seal_secrets", seal)
	_ = cb.Query().After("gorm:query").Register("wecomflow:open_secrets", open)
}

// eachSecret seals (before writes) or opens (after reads) every Secret field of the statement's
// model value, which may be one struct or a slice of them.
func eachSecret(tx *gorm.DB, c *Cipher, sealing bool) {
	st := tx.Statement
	if tx.Error != nil || st.Schema == nil {
		return
	}
	var fields []*schema.Field
	for _, f := range st.Schema.Fields {
		if f.FieldType == secretType {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return
	}
	rv := reflect.Indirect(st.ReflectValue)
	apply := func(item reflect.Value) {
		for _, f := range fields {
			v, _ := f.ValueOf(st.Context, item)
			sec := v.(Secret)
			aad := st.Schema.Table + "." + f.DBName
			if sealing {
				if sec.Plain == "" {
					continue
				}
				sec.sealed = c.Seal(sec.Plain, aad)
			} else {
				if sec.sealed == "" {
					continue
				}
				plain, err := c.Open(sec.sealed, aad)
				if err != nil {
					_ = tx.AddError(fmt.Errorf("store: %s: %w", aad, err))
					return
				}
				sec.Plain = plain
			}
			if err := f.Set(st.Context, item, sec); err != nil {
				_ = tx.AddError(err)
			}
		}
	}
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			apply(reflect.Indirect(rv.Index(i)))
		}
	case reflect.Struct:
		apply(rv)
	}
}
