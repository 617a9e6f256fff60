package callback

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecrypt feeds arbitrary text to Decrypt, which must fail with one of its sentinels rather
// than panic, and checks that Encrypt→Decrypt gives back any message.
func FuzzDecrypt(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.encrypt, []byte(v.plain))
	}
	f.Add("", []byte{})
	c := vectorCrypto(f)
	f.Fuzz(func(t *testing.T, encrypt string, msg []byte) {
		if _, err := c.Decrypt(encrypt); err != nil && !isDecryptError(err) {
			t.Errorf("Decrypt(%q): unexpected error %v", encrypt, err)
		}
		enc, err := c.Encrypt(msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Decrypt(enc); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("Decrypt(Encrypt(%q)) = %q, %v", msg, got, err)
		}
	})
}

func isDecryptError(err error) bool {
	for _, want := range []error{ErrBadBase64, ErrBadCiphertext, ErrBadPadding, ErrBadLength, ErrReceiveID} {
		if errors.Is(err, want) {
			return true
		}
	}
	return false
}

// FuzzParseMessage checks that ParseMessage never panics and returns exactly one of a map and an
// ErrBadXML.
func FuzzParseMessage(f *testing.F) {
	for _, seed := range [][]byte{
		[]byte(v2Plain), []byte(v2Body), []byte(nested(17)), []byte("<!DOCTYPE xml><xml/>"),
		readTestdata(f, "template_card_event.xml"), readTestdata(f, "change_contact_create_user.xml"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		m, err := ParseMessage(plain)
		if (m == nil) == (err == nil) || (err != nil && !errors.Is(err, ErrBadXML)) {
			t.Errorf("ParseMessage(%q) = %v, %v", plain, m, err)
		}
	})
}
