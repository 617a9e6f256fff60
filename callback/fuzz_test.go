package callback

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
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

// xmlSeeds are inputs for the XML fuzzers: WeCom's messages and bodies, and each rule of the
// syntax that a scanner could get wrong.
func xmlSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		[]byte(v2Plain), []byte(v2Body), []byte(nested(17)), []byte("<!DOCTYPE xml><xml/>"),
		readTestdata(f, "template_card_event.xml"), readTestdata(f, "change_contact_create_user.xml"),
	}
	for _, s := range []string{
		"<xml>\r\n<a> x\r\ny\r </a><b><![CDATA[\r\n]]></b></xml>",
		"<xml><a>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#xD800;&#0;&#x110000;&#;&#x;&#X41;&nbsp;&amp</a></xml>",
		"<xml><a>x]]>y</a><b a=\"]]>\"/><c><![CDATA[]]]]><![CDATA[>]]></c></xml>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><xml/>", "<?xml version='1.1'?><xml/>",
		"<?xml encoding=\"GBK\"?><xml/>", "<?xml-stylesheet href=\"a\"?><xml/>", "<?xml?><xml/>",
		"<!----><xml><!-- a - b --><a>x<!-- c -->y</a></xml><!-- d -- e -->",
		"<x:xml xmlns:x=\"urn:x\"><a:b>1</a:b><c:b>2</c:b><:d/><e:/></x:xml>", "<xml><a:b:c/></xml>",
		"<xml><a b=\"1\"c='2' d = \"&amp;\"/><e f/><g h=i/><j k=\"<\"/></xml>",
		"<xml><名字>张三</名字><a·b/></xml>", "<xml><·/></xml>", "<xml><a>\xff</a></xml>", "<xml><a>\x01</a></xml>",
		"\ufeff<xml/>", "\u00a0<xml/>\u3000", "<xml><a>\u00a0x\u0085</a></xml>",
		"<xml><a>1<b/>2</a></xml>", "<xml><a></b></a></xml>", "</xml>", "<xml", "<xml><a x=\"1",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzParseMessage checks that ParseMessage never panics and returns exactly one of a map and an
// ErrBadXML.
func FuzzParseMessage(f *testing.F) {
	for _, seed := range xmlSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		m, err := ParseMessage(plain)
		if (m == nil) == (err == nil) || (err != nil && !errors.Is(err, ErrBadXML)) {
			t.Errorf("ParseMessage(%q) = %v, %v", plain, m, err)
		}
	})
}

// xmlPieces are bits of XML syntax, valid and not, for FuzzParseMessageMatchesEncodingXML to
// assemble: random bytes seldom spell "<![CDATA[" or "version=".
var xmlPieces = []string{"<", ">", "/", "/>", "xml", "<xml>", "</xml>", "a", "b", ":", "x:", "&amp;", "&lt;", "&#", "&#x",
	"41", "D800", ";", "&", "]]>", "]", "<![CDATA[", "<!--", "-->", "--", "-", "<?", "?>", "<?xml ", "version=",
	"encoding=", "'1.0'", `"1.1"`, "'utf-8'", "'GBK'", "\r", "\n", "\r\n", " ", "\t", `"`, "'", "=", "é", "名", "·",
	"\xff", "\x00", "\x01", "<!DOCTYPE", "<a>", "</a>", "<b/>", `<a b="c">`, "\u00a0", "\ufeff", "\u0085", "1", ".",
	"_", "<x:xml>", "</x:xml>", "<![", "CDATA["}

// FuzzParseMessageMatchesEncodingXML holds the scanner to the parser it replaced, built on
// encoding/xml: the same object for every input that one accepts, a refusal for every one it
// refuses. Each input is tried as it is and as a list of xmlPieces, one byte choosing each.
func FuzzParseMessageMatchesEncodingXML(f *testing.F) {
	for _, seed := range xmlSeeds(f) {
		f.Add(seed)
	}
	f.Add([]byte{5, 21, 7, 20, 11, 6})
	f.Fuzz(func(t *testing.T, input []byte) {
		var assembled []byte
		for _, b := range input {
			assembled = append(assembled, xmlPieces[int(b)%len(xmlPieces)]...)
		}
		for _, plain := range [][]byte{input, assembled} {
			got, err := ParseMessage(plain)
			want, wantErr := parseMessageXML(plain)
			if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("ParseMessage(%q) = %#v, %v\nencoding/xml: %#v, %v", plain, got, err, want, wantErr)
			}
		}
	})
}

// FuzzParseEnvelopeMatchesParseMessage holds ParseEnvelope, which builds no maps, to what
// ParseMessage's object says: the same bodies refused, and each field the string that object
// holds under its name (none when the element repeats or has children).
func FuzzParseEnvelopeMatchesParseMessage(f *testing.F) {
	for _, seed := range xmlSeeds(f) {
		f.Add(seed)
	}
	for _, s := range []string{
		"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", "<xml><Encrypt><a/>x</Encrypt></xml>",
		"<xml><Encrypt> x </Encrypt><ToUserName/><AgentID>1<!-- -->2</AgentID></xml>",
		"<xml><a><Encrypt>x</Encrypt></a></xml>", "<xml><x:Encrypt><![CDATA[a\r\nb]]></x:Encrypt></xml>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := ParseEnvelope(body)
		m, merr := ParseMessage(body)
		str := func(k string) string { s, _ := m[k].(string); return s }
		want := Envelope{ToUserName: str("ToUserName"), AgentID: str("AgentID"), Encrypt: str("Encrypt")}
		if merr != nil || want.Encrypt == "" {
			if err == nil {
				t.Errorf("ParseEnvelope(%q) = %+v; ParseMessage: %v, %v", body, env, m, merr)
			}
			return
		}
		if err != nil || env != want {
			t.Errorf("ParseEnvelope(%q) = %+v, %v; want %+v", body, env, err, want)
		}
	})
}

// FuzzParseEventMatchesParseMessage holds the handler's parse, which writes the payload's JSON
// itself, to ParseMessage and encoding/json: the same messages refused, the payload byte for byte
// json.Marshal of ParseMessage's object, each field the string that object holds.
func FuzzParseEventMatchesParseMessage(f *testing.F) {
	for _, seed := range xmlSeeds(f) {
		f.Add(seed)
	}
	for _, s := range []string{
		"<xml><b>1</b><a>2</a><b><c/></b><a>3</a><B/><_/></xml>", "<xml></xml>", "<xml><a><b/></a></xml>",
		"<xml><MsgId>1</MsgId><MsgId>2</MsgId><Event><a/></Event><x:MsgType>t</x:MsgType><CreateTime> 5 </CreateTime></xml>",
		"<xml><a>\"\\\b\f\n\t&lt;&gt;&amp;\u007f\u2028\u2029&#1;&#x1f;é</a><a2/></xml>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		var assembled []byte
		for _, b := range input {
			assembled = append(assembled, xmlPieces[int(b)%len(xmlPieces)]...)
		}
		for _, plain := range [][]byte{input, assembled} {
			checkParseEvent(t, plain)
		}
	})
}

// checkParseEvent compares parseEvent with ParseMessage and encoding/json on one input.
func checkParseEvent(t *testing.T, plain []byte) {
	t.Helper()
	ev, err := parseEvent(plain)
	m, merr := ParseMessage(plain)
	if (err != nil) != (merr != nil) {
		t.Fatalf("parseEvent(%q): %v; ParseMessage: %v", plain, err, merr)
	}
	if err != nil {
		return
	}
	want, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.payload, want) {
		t.Errorf("parseEvent(%q).payload = %s\nwant %s", plain, ev.payload, want)
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	want2 := parsedEvent{payload: ev.payload, msgID: str("MsgId"), createTime: str("CreateTime"), msgType: str("MsgType"),
		event: str("Event"), changeType: str("ChangeType"), fromUser: str("FromUserName")}
	if !reflect.DeepEqual(ev, want2) {
		t.Errorf("parseEvent(%q) = %+v, want the fields of %+v", plain, ev, want2)
	}
}
