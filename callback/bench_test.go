package callback

import "testing"

// BenchmarkVerifyDecryptParse measures the work a POST does before it stores the event.
func BenchmarkVerifyDecryptParse(b *testing.B) {
	c := vectorCrypto(b)
	const timestamp, nonce = "1718000000", "1372623149"
	encrypt, err := c.Encrypt(readTestdata(b, "template_card_event.xml"), nil)
	if err != nil {
		b.Fatal(err)
	}
	sig := Signature(vecToken, timestamp, nonce, encrypt)
	b.ReportAllocs()
	for b.Loop() {
		if !c.Verify(sig, timestamp, nonce, encrypt) {
			b.Fatal("Verify failed")
		}
		plain, err := c.Decrypt(encrypt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseMessage(plain); err != nil {
			b.Fatal(err)
		}
	}
}
